"""Appending to, completing and verifying the hash-chained audit trail.

Only `console.actions` calls `append` and `complete`. Each entry's `hash` covers its
content and the previous entry's hash; a long action's outcome is sealed later by
`end_hash` over the entry's hash and the outcome fields.
"""

import hashlib
import ipaddress
import json
import threading

from django.db import connection, models, transaction
from django.utils import timezone

from console.audit.models import AuditEntry

STARTED, SUCCEEDED, FAILED, DENIED = (
    AuditEntry.STARTED,
    AuditEntry.SUCCEEDED,
    AuditEntry.FAILED,
    AuditEntry.DENIED,
)
GENESIS = "0" * 64
CONTENT = (
    "time", "actor_id", "actor_name", "source_ip", "user_agent", "request_id", "action",
    "host_name", "target_type", "target_id", "target_name", "params", "outcome", "error",
    "duration_ms", "size_bytes",
)  # fmt: skip
ENDING = ("outcome", "error", "duration_ms", "size_bytes")
_lock = threading.Lock()  # one writer at a time in this process (SQLite has no row locks)


def _digest(values, prev):
    text = json.dumps([prev, *values], sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def content_hash(entry, prev):
    return _digest([_normal(f, getattr(entry, f)) for f in CONTENT], prev)


def ending_hash(entry):
    return _digest([_normal(f, getattr(entry, f)) for f in ENDING], entry.hash)


def _normal(name, value):
    if name == "time":
        return value.isoformat(timespec="microseconds")
    return value


def append(*, outcome, error="", duration_ms=None, size_bytes=None, **fields):
    entry = AuditEntry(
        time=timezone.now(),
        outcome=outcome, error=error[:4000], duration_ms=duration_ms, size_bytes=size_bytes,
        **fields,
    )  # fmt: skip
    entry.params = json.loads(json.dumps(entry.params, default=str))
    entry.source_ip = _stored_ip(entry.source_ip)
    with _lock, transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(727274)")
        last = AuditEntry.objects.order_by("-id").values_list("hash", flat=True).first()
        entry.prev_hash = last or GENESIS
        entry.hash = content_hash(entry, entry.prev_hash)
        entry.save(force_insert=True)
    return entry


def _stored_ip(value):
    """The address as the database will give it back (the hash must match what verify
    reads): IPv6 in canonical form, no zone, and nothing that is not an address."""
    if not value:
        return None
    try:
        address = ipaddress.ip_address(str(value).split("%")[0])
    except ValueError:
        return None
    return AuditEntry._meta.get_field("source_ip").get_prep_value(str(address))


def complete(entry, outcome, error, duration_ms, size_bytes):
    """The one allowed change: a started long action gets its outcome, once."""
    entry.outcome, entry.error = outcome, (error or "")[:4000]
    entry.duration_ms, entry.size_bytes = duration_ms, size_bytes
    entry.end_hash = ending_hash(entry)
    started_row = AuditEntry.objects.filter(pk=entry.pk, outcome=STARTED)
    updated = models.QuerySet.update(  # bypasses the manager's refusal, on purpose
        started_row, outcome=outcome, error=entry.error, duration_ms=duration_ms,
        size_bytes=size_bytes, end_hash=entry.end_hash,
    )  # fmt: skip
    return updated == 1


def purge(through_id, step=10000):
    """Delete the oldest part of the chain: every entry up to `through_id`.

    Only `manage.py audit purge` calls this (through the `audit.purge` action, whose
    entry records the last purged hash so that `check` accepts the new start). It
    deletes `step` ids per transaction, so that writers are never kept waiting long;
    if it is interrupted, running the purge again completes it.
    """
    first = AuditEntry.objects.order_by("id").values_list("id", flat=True).first()
    deleted = 0
    for upto in range((first or through_id + 1) + step - 1, through_id + step, step):
        with _lock, transaction.atomic():
            oldest = AuditEntry.objects.filter(id__lte=min(upto, through_id))
            count, _ = models.QuerySet.delete(oldest)  # bypasses the manager's refusal, on purpose
        deleted += count
    return deleted


def verify(batch=2000):
    """The first entry where the chain breaks, with the reason; None if it holds."""
    return check(batch)[1]


def check(batch=2000):
    """(entries checked, None) if the chain holds, else (entries checked, (entry, reason))."""
    prev = None
    last_id = 0
    count = 0
    while True:
        rows = list(AuditEntry.objects.filter(id__gt=last_id).order_by("id")[:batch])
        if not rows:
            return count, None
        for entry in rows:
            if prev is None and not _starts_chain(entry):
                return count, (entry, "follows entries that are missing (removed without `audit purge`)")
            if prev is not None and entry.prev_hash != prev:
                return count, (entry, "does not follow the previous entry (an entry was removed or altered)")
            if entry.end_hash:
                stored = {f: getattr(entry, f) for f in ENDING}
                if entry.end_hash != ending_hash(entry):
                    return count, (entry, "its outcome was altered")
                # The content hash was taken while the action was still running.
                entry.outcome, entry.error, entry.duration_ms, entry.size_bytes = (
                    STARTED, "", None, None
                )
                ok = entry.hash == content_hash(entry, entry.prev_hash)
                for f, v in stored.items():
                    setattr(entry, f, v)
            else:
                ok = entry.hash == content_hash(entry, entry.prev_hash)
            if not ok:
                return count, (entry, "its content was altered")
            prev = entry.hash
            last_id = entry.id
            count += 1


def _starts_chain(entry):
    """The oldest remaining entry starts the chain, or follows the entries a recorded
    purge removed (the purge entry itself is checked later in the chain)."""
    if entry.prev_hash == GENESIS:
        return True
    purges = AuditEntry.objects.filter(
        action="audit.purge", outcome=SUCCEEDED, id__gte=entry.id, params__last_purged_hash=entry.prev_hash
    ).values_list("params", flat=True)
    return any(int(p.get("purged_through_id") or 0) < entry.id for p in purges)
