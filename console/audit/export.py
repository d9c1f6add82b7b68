"""Exports of the audit trail (CSV, JSON, gzip JSON lines), and retention.

Entries are read in id-keyset batches (oldest first, BATCH at a time), encoded batch
by batch and handed on as bytes: an export of a million entries never holds more
than one batch in memory.
"""

import csv
import gzip
import io
import json
import os
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from console.actions import Target, authorize, long_action, perform
from console.audit import chain
from console.audit.models import AuditEntry
from console.audit.selectors import chain_end, entries
from console.errors import WharfError

BATCH = 2000
FIELDS = (
    "id", "time", "actor_id", "actor_name", "source_ip", "user_agent", "request_id", "action",
    "host_name", "target_type", "target_id", "target_name", "params", "outcome", "error",
    "duration_ms", "size_bytes", "prev_hash", "hash", "end_hash", "key_id",
)  # fmt: skip
CONTENT_TYPES = {"csv": "text/csv; charset=utf-8", "json": "application/json"}


def batches(queryset, through_id=None, batch=None):
    """Lists of value tuples (FIELDS), oldest first, up to `through_id`."""
    batch = batch or BATCH
    rows = queryset.order_by("id").values_list(*FIELDS)
    if through_id is not None:
        rows = rows.filter(id__lte=through_id)
    last = 0
    while chunk := list(rows.filter(id__gt=last)[:batch]):
        yield chunk
        if len(chunk) < batch:
            return
        last = chunk[-1][0]


def _record(row):
    record = dict(zip(FIELDS, row, strict=True))
    record["time"] = record["time"].isoformat(timespec="microseconds")
    return record


TIME, PARAMS = FIELDS.index("time"), FIELDS.index("params")
# Text anyone can put on the record (a failed login's username, a container's name).
FREE_TEXT = tuple(FIELDS.index(f) for f in ("actor_name", "user_agent", "target_id", "target_name", "error"))
FORMULA = ("=", "+", "-", "@", "\t", "\r")


def _csv_row(row):
    cells = list(row)
    cells[TIME] = cells[TIME].isoformat(timespec="microseconds")
    cells[PARAMS] = json.dumps(cells[PARAMS], sort_keys=True)
    for i in FREE_TEXT:  # a spreadsheet would run these as formulas: neutralise them
        if cells[i].startswith(FORMULA):
            cells[i] = "'" + cells[i]
    return cells


def csv_chunks(row_batches):
    yield (",".join(FIELDS) + "\r\n").encode()
    for rows in row_batches:
        out = io.StringIO()
        csv.writer(out).writerows(map(_csv_row, rows))
        yield out.getvalue().encode()


def json_chunks(row_batches):
    """One JSON array, written a batch at a time."""
    yield b"["
    separator = "\n"
    for rows in row_batches:
        yield (separator + ",\n".join(json.dumps(_record(r)) for r in rows)).encode()
        separator = ",\n"
    yield b"\n]\n"


def jsonl_chunks(row_batches):
    for rows in row_batches:
        yield "".join(json.dumps(_record(r)) + "\n" for r in rows).encode()


ENCODERS = {"csv": csv_chunks, "json": json_chunks, "jsonl": jsonl_chunks}


class AuditedExport:
    """An export's bytes, served while its `audit.export` long action stays open.

    Creating it authorizes the export (a denial raises here, before any response) and
    writes the started entry; the entry is completed with the bytes sent when the
    stream ends, as failed ("cancelled") when it is closed early.
    """

    def __init__(self, actor, fmt, filters):
        through_id = chain_end()  # a snapshot: not the export's own entry, nor later ones
        self._stack = ExitStack()
        self.progress = self._stack.enter_context(
            long_action(actor, "audit.export", params={"filters": filters.active(), "format": fmt})
        )
        self._done = False
        if not filters.is_valid():
            self._finish(WharfError(f"Invalid filter: {filters.error_text()}"))
        self._chunks = ENCODERS[fmt](batches(entries(filters), through_id))

    # An iterator with close(): console.streaming serves it (under ASGI from a worker thread).
    def __iter__(self):
        return self

    def __next__(self):
        chunk = self._next()
        if chunk is None:
            raise StopIteration
        return chunk

    def close(self):
        if not self._done:
            self._chunks.close()
            self._finish(GeneratorExit())

    def _next(self):
        if self._done:
            return None
        try:
            chunk = next(self._chunks)
        except StopIteration:
            self._finish(None)
            return None
        except BaseException as exc:
            self._finish(exc)
            raise
        self.progress.size += len(chunk)
        return chunk

    def _finish(self, exc):
        """End the long action: succeeded, or failed with `exc` (which is raised again)."""
        self._done = True
        if exc is None:
            self._stack.close()
        elif not self._stack.__exit__(type(exc), exc, exc.__traceback__):
            if not isinstance(exc, GeneratorExit):
                raise exc


# --- retention ---------------------------------------------------------------------


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
