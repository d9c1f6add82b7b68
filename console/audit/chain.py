"""Appending to, completing and verifying the hash-chained audit trail.

Only `console.actions` calls `append` and `complete`. Each entry's `hash` covers its
content and the previous entry's hash; a long action's outcome is sealed later by
`end_hash` over the entry's hash and the outcome fields.
"""

import hashlib
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
    with _lock, transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(727274)")
        last = AuditEntry.objects.order_by("-id").values_list("hash", flat=True).first()
        entry.prev_hash = last or GENESIS
        entry.hash = content_hash(entry, entry.prev_hash)
        entry.save(force_insert=True)
    return entry


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


def verify(batch=2000):
    """The first entry where the chain breaks, with the reason; None if it holds."""
    prev = None
    last_id = 0
    while True:
        rows = list(AuditEntry.objects.filter(id__gt=last_id).order_by("id")[:batch])
        if not rows:
            return None
        for entry in rows:
            if prev is not None and entry.prev_hash != prev:
                return entry, "does not follow the previous entry (an entry was removed or altered)"
            if entry.end_hash:
                stored = {f: getattr(entry, f) for f in ENDING}
                if entry.end_hash != ending_hash(entry):
                    return entry, "its outcome was altered"
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
                return entry, "its content was altered"
            prev = entry.hash
            last_id = entry.id
