"""Retention: archive the oldest audit entries to a gzip JSON-lines file, then delete them
(`manage.py audit purge`)."""

import gzip
import os
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from console.actions import Target, authorize, perform
from console.audit import chain
from console.audit.export import batches, jsonl_chunks
from console.audit.models import AuditEntry
from console.audit.selectors import chain_end
from console.errors import WharfError


@dataclass
class PurgeResult:
    cutoff: object
    count: int = 0
    through_id: int | None = None
    archive: Path | None = None


def audit_purge(*, actor, days=None, archive_dir=None, dry_run=False):
    """Archive the entries older than `days` (default AUDIT_RETENTION_DAYS) to a gzip
    JSON-lines file, then delete them as the `audit.purge` action.

    What goes is always the oldest part of the chain, and never its newest entry, so
    the chain goes on; the purge entry records the last purged hash for `verify`.
    """
    authorize(actor, "audit.purge")  # a refused purge must not even write the archive
    days = settings.AUDIT_RETENTION_DAYS if days is None else days
    if days < 0:
        raise WharfError("The retention must be zero days or more.")
    cutoff = timezone.now() - timedelta(days=days)
    result = PurgeResult(cutoff=cutoff)
    young = AuditEntry.objects.filter(time__gte=cutoff).order_by("id").values_list("id", flat=True)
    first_kept = young.first() or chain_end()
    oldest = AuditEntry.objects.filter(id__lt=first_kept)
    last = oldest.order_by("-id").values_list("id", "hash").first()
    if last is None:
        return result
    result.through_id, last_hash = last
    result.count = oldest.count()
    if dry_run:
        return result
    result.archive = _archive(result.through_id, Path(archive_dir or settings.DATA_DIR / "audit-archive"))
    params = {
        "purged_through_id": result.through_id, "last_purged_hash": last_hash, "entries": result.count,
        "older_than": cutoff.isoformat(), "archive": str(result.archive),
    }  # fmt: skip
    result.count = perform(
        actor, "audit.purge", target=Target(id=result.through_id, name=f"entries up to #{result.through_id}"),
        params=params, run=lambda: chain.purge(result.through_id),
    )  # fmt: skip
    return result


def _archive(through_id, folder):
    """Write the entries up to `through_id` to a new archive file, durably, before any
    of them is deleted. Private, like the data folder it lives in by default."""
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = folder / f"audit-through-{through_id}-{timezone.now():%Y%m%dT%H%M%S}Z.jsonl.gz"
    partial = path.with_name(path.name + ".partial")
    with os.fdopen(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as raw:
        with gzip.GzipFile(fileobj=raw, mode="wb") as archive:
            for chunk in jsonl_chunks(batches(AuditEntry.objects.all(), through_id)):
                archive.write(chunk)
        raw.flush()
        os.fsync(raw.fileno())
    partial.rename(path)
    return path
