"""Appending to, completing and verifying the audit trail's keyed hash chain.

Only `console.actions` calls `append` and `complete`. Each entry's `hash` is an
HMAC-SHA256, under the audit key its `key_id` names (`console.audit.keys`), of its
content and the previous entry's hash; a long action's outcome is sealed later by
`end_hash`, under the same key, over the entry's hash and the outcome fields. Without
the key nobody can alter an entry and recompute the hashes after it. A terminal session's
entry also keeps its recording's name and SHA-256, sealed with the outcome: `check` holds
the file against them (`console.audit.recordings`), and `purge` deletes the file. The head is
anchored outside the database (`console.audit.anchors`): removing the newest entries,
or rewriting the chain even with the key, disagrees with the anchors.

Entries from before the chain was keyed (empty `key_id`) carry a plain SHA-256. They
are accepted only before the first keyed entry, which links to them and seals them;
keys may only get newer along the chain.
"""

import hashlib
import ipaddress
import json
import threading
from dataclasses import dataclass, field
from functools import partial

from django.db import connection, models, transaction
from django.utils import timezone

from console.audit import anchors, keys, recordings
from console.audit.models import AuditEntry
from console.errors import WharfError

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


def _digest(values, prev, key):
    text = json.dumps([prev, *values], sort_keys=True, default=str, separators=(",", ":")).encode()
    return key.digest(text) if key else hashlib.sha256(text).hexdigest()


def content_hash(entry, prev, key):
    return _digest([_normal(f, getattr(entry, f)) for f in CONTENT], prev, key)


def ending_hash(entry, key):
    values = [_normal(f, getattr(entry, f)) for f in ENDING]
    if entry.recording is not None:  # only then: the entries without one keep their hash
        values.append(entry.recording)
    return _digest(values, entry.hash, key)


def seal(entry, prev):
    """Chain `entry` after the hash `prev`, under the newest key."""
    key = keys.current()
    entry.key_id, entry.prev_hash = key.id, prev
    entry.hash = content_hash(entry, prev, key)


def _key(entry):
    return keys.find(entry.key_id) if entry.key_id else None


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
        last = AuditEntry.objects.order_by("-id").values_list("hash", "key_id").first()
        seal(entry, last[0] if last else GENESIS)
        entry.save(force_insert=True)
        first_of_key = last is None or last[1] != entry.key_id
        # Anchored once committed (and outside the lock): never an entry rolled back.
        transaction.on_commit(partial(anchors.committed, entry.id, entry.hash, first_of_key))
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


def complete(entry, outcome, error, duration_ms, size_bytes, recording=None):
    """The one allowed change: a started long action gets its outcome, once (and a
    terminal session its `recording`, a console.terminals.recording.Recording)."""
    entry.outcome, entry.error = outcome, (error or "")[:4000]
    entry.duration_ms, entry.size_bytes = duration_ms, size_bytes
    entry.recording = recording.as_dict() if recording is not None else None
    entry.end_hash = ending_hash(entry, _key(entry))
    started_row = AuditEntry.objects.filter(pk=entry.pk, outcome=STARTED)
    updated = models.QuerySet.update(  # bypasses the manager's refusal, on purpose
        started_row, outcome=outcome, error=entry.error, duration_ms=duration_ms,
        size_bytes=size_bytes, recording=entry.recording, end_hash=entry.end_hash,
    )  # fmt: skip
    return updated == 1


def purge(through_id, step=10000):
    """Delete the oldest part of the chain: every entry up to `through_id`.

    Only `manage.py audit purge` calls this (through the `audit.purge` action, whose
    entry records the last purged hash so that `check` accepts the new start). It
    deletes `step` ids per transaction, so that writers are never kept waiting long;
    if it is interrupted, running the purge again completes it. The recordings of the
    deleted entries are deleted once their entries are.
    """
    first = AuditEntry.objects.order_by("id").values_list("id", flat=True).first()
    deleted = 0
    for upto in range((first or through_id + 1) + step - 1, through_id + step, step):
        with _lock, transaction.atomic():
            oldest = AuditEntry.objects.filter(id__lte=min(upto, through_id))
            files = list(oldest.filter(recording__isnull=False).values_list("recording", flat=True))
            count, _ = models.QuerySet.delete(oldest)  # bypasses the manager's refusal, on purpose
        recordings.remove(files)
        deleted += count
    return deleted


def verify(batch=2000):
    """(entry or None, reason) where the chain breaks; None if it holds."""
    return check(batch).problem


@dataclass
class Report:
    entries: int = 0
    unkeyed: int = 0  # from before the chain was keyed
    anchors: list = field(default_factory=list)
    unanchored: int = 0  # entries after the newest anchor
    recordings: int = 0  # terminal recordings held against their entries
    problem: tuple | None = None  # (the entry, or None for the trail as a whole; reason)

    def summary(self):
        text = f"{self.entries} entries"
        if self.unkeyed:
            text += f", the oldest {self.unkeyed} from before the chain was keyed"
        if self.recordings:
            text += f", {self.recordings} with a recording that matches"
        if not self.anchors:
            return text + f"; no anchor yet in {anchors.path()}"
        newest = max(self.anchors, key=lambda a: a.id)
        return text + f"; anchored up to #{newest.id} at {newest.at}, {self.unanchored} entries since"


def check(batch=2000):
    """Check every entry, oldest first, and the anchors against them."""
    report = Report()
    try:
        report.anchors = anchors.read()
    except WharfError as exc:
        report.problem = (None, str(exc))
        return report
    report.problem = _forged(report.anchors)
    if report.problem:
        return report
    anchored = {mark.id: mark for mark in report.anchors}
    newest_anchor = max(anchored, default=0)
    prev = rank = first = None
    last_id = 0
    while rows := list(AuditEntry.objects.filter(id__gt=last_id).order_by("id")[:batch]):
        for entry in rows:
            key = _key(entry)
            reason = _fault(entry, key, prev, rank)
            mark = anchored.pop(entry.id, None)
            if reason is None and mark is not None and mark.hash != entry.hash:
                reason = f"does not match its anchor of {mark.at}: the trail was rewritten after that"
            if reason is None and entry.recording is not None:
                reason = recordings.fault(entry.recording)
            if reason is not None:
                report.problem = (entry, reason)
                return report
            first = first or entry
            prev, rank, last_id = entry.hash, _rank(key), entry.id
            report.entries += 1
            report.unkeyed += not entry.key_id
            report.unanchored += entry.id > newest_anchor
            report.recordings += entry.recording is not None
    report.problem = _unmatched(anchored, first, last_id)
    return report


def _forged(marks):
    """(None, reason) for the first anchor not sealed with a key of this console, or None."""
    for mark in marks:
        key, where = keys.find(mark.key_id), f"the anchor on line {mark.line} of {anchors.path()}"
        if key is None:
            return None, f"{where} is sealed with a key this console does not have (key id {mark.key_id})"
        if not mark.genuine(key):
            return None, f"{where} was not written with the audit key"
    return None


def _fault(entry, key, prev, rank):
    """Why `entry`, sealed with `key`, breaks the chain after the hash `prev` and a key
    of `rank`; None if it does not."""
    if entry.key_id and key is None:
        return f"is sealed with a key this console does not have (key id {entry.key_id})"
    if rank is not None and _rank(key) > rank:
        if not entry.key_id:
            return "is not keyed but follows keyed entries: the chain was rewritten from here"
        return "is sealed with an older key than the entry before it: the chain was rewritten from here"
    if prev is None and not _starts_chain(entry):
        return "follows entries that are missing (removed without `audit purge`)"
    if prev is not None and entry.prev_hash != prev:
        return "does not follow the previous entry (an entry was removed or altered)"
    if entry.recording is not None and not entry.end_hash:
        return "its recording was added after it was written"
    if entry.end_hash:
        stored = {f: getattr(entry, f) for f in ENDING}
        if entry.end_hash != ending_hash(entry, key):
            return "its outcome was altered"
        # The content hash was taken while the action was still running.
        entry.outcome, entry.error, entry.duration_ms, entry.size_bytes = STARTED, "", None, None
        ok = entry.hash == content_hash(entry, entry.prev_hash, key)
        for f, v in stored.items():
            setattr(entry, f, v)
    else:
        ok = entry.hash == content_hash(entry, entry.prev_hash, key)
    return None if ok else "its content was altered"


def _rank(key):
    """0 for the newest key; no key (before keying) ranks after every key."""
    return key.rank if key else keys.count()


def _unmatched(anchored, first, last_id):
    """The anchors no entry answered: (None, reason) for the first that matters, or None.
    An anchor before the first entry is fine when that entry follows a purge."""
    for entry_id, mark in sorted(anchored.items()):
        if first is not None and entry_id < first.id and first.prev_hash != GENESIS:
            continue
        if entry_id > last_id:
            end = f"the trail ends at #{last_id}" if last_id else "the trail is empty"
            return (
                None,
                f"its newest entries were removed: the anchor of {mark.at} names entry #{entry_id}, but {end}",
            )
        return None, f"entry #{entry_id}, anchored at {mark.at}, is missing"
    return None


def _starts_chain(entry):
    """The oldest remaining entry starts the chain, or follows the entries a recorded
    purge removed (the purge entry itself is checked later in the chain)."""
    if entry.prev_hash == GENESIS:
        return True
    purges = AuditEntry.objects.filter(
        action="audit.purge", outcome=SUCCEEDED, id__gte=entry.id, params__last_purged_hash=entry.prev_hash
    ).values_list("params", flat=True)
    return any(int(p.get("purged_through_id") or 0) < entry.id for p in purges)
