"""The chain's head, anchored outside the database.

An anchor is one JSON line appended to AUDIT_ANCHOR_FILE (and logged to `wharf.audit`,
which WHARF_AUDIT_SYSLOG sends to syslog): an entry's id and hash, the time, and an
HMAC of the three under the audit key. `chain.check` holds the database against the
anchors: an entry that no longer matches its anchor was rewritten; an anchor past the
trail's end means its newest entries were removed.

When: the first entry sealed with a key (the first of a new trail, of an upgraded
one, of a rotated key) at once; then every AUDIT_ANCHOR_EVERY entries, and
AUDIT_ANCHOR_SECONDS after an entry that was not anchored (a timer in the process that
wrote it; at a normal exit it is anchored at once). An anchor is written only after
its entry's transaction commits, so it never names an entry that was rolled back; one
writer at a time (a lock on the file, for several processes); each anchor is fsynced,
one fsync per AUDIT_ANCHOR_EVERY entries, not per entry.

What can go without a trace is what came after the last anchor: fewer than
AUDIT_ANCHOR_EVERY entries, all younger than AUDIT_ANCHOR_SECONDS (or older, if the
process was killed before its timer fired).
"""

import atexit
import fcntl
import hmac
import json
import logging
import os
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from django.conf import settings
from django.db import connection

from console.audit import keys
from console.audit.models import AuditEntry
from console.errors import WharfError

logger = logging.getLogger("wharf.audit")
TAIL = 4096  # bytes read from the end of the file to find the newest anchor

_lock = threading.Lock()  # the state below, and one writer at a time in this process
_newest = {}  # anchor file -> the newest anchor this process has seen (None: none yet)
_timers = {}  # anchor file -> the timer that will anchor the head


@dataclass(frozen=True)
class Anchor:
    id: int
    hash: str
    at: str  # when it was written, ISO 8601 UTC
    key_id: str
    mac: str
    line: int = 0

    def genuine(self, key):
        return hmac.compare_digest(_mac(key, self.id, self.hash, self.at), self.mac)

    def age(self):
        return time.time() - datetime.fromisoformat(self.at).timestamp()


def path():
    return Path(settings.AUDIT_ANCHOR_FILE)


def read(file=None):
    """Every anchor in the file, oldest first; a line that is not one raises WharfError."""
    file = file or path()
    anchors, number = [], 1
    try:
        with open(file) as lines:
            for number, text in enumerate(lines, 1):
                if text.strip():
                    anchors.append(_parse(text, number))
    except FileNotFoundError:
        return []
    except (ValueError, KeyError, TypeError):
        raise WharfError(f"line {number} of the anchor file {file} is not an anchor") from None
    return anchors


def committed(entry_id, entry_hash, first_of_key):
    """After an entry's transaction commits: anchor it if that is due, else make sure a
    timer anchors the head within AUDIT_ANCHOR_SECONDS."""
    file = path()

    def due(last):
        return _older(last, entry_id) if first_of_key else _due(last, entry_id)

    try:
        if due(_known(file)):
            _append(file, entry_id, entry_hash, due)
        elif settings.AUDIT_ANCHOR_SECONDS:
            _schedule(file)
    except OSError as exc:  # the entry stands; what is lost is this anchor
        logger.error("could not write the audit anchor to %s: %s", file, exc)


def anchor_head(file=None):
    """Anchor the newest entry now, unless it already is."""
    file = file or path()
    head = AuditEntry.objects.order_by("-id").values_list("id", "hash").first()
    if head is not None:
        _append(file, *head, lambda last: _older(last, head[0]))


def _older(last, entry_id):
    return last is None or entry_id > last.id


def _due(last, entry_id):
    if last is None:
        return True
    every, seconds = settings.AUDIT_ANCHOR_EVERY, settings.AUDIT_ANCHOR_SECONDS
    return entry_id > last.id and bool(
        (every and entry_id - last.id >= every) or (seconds and last.age() >= seconds)
    )


def _known(file):
    if file not in _newest:
        _newest[file] = _tail(file)
    return _newest[file]


def _append(file, entry_id, entry_hash, due):
    """Append an anchor if `due(newest anchor in the file)` still holds under the lock."""
    with _lock:
        fd = os.open(file, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)  # other processes
            last = _tail(file)
            if due(last):
                key = keys.current()
                at = datetime.now(UTC).isoformat(timespec="microseconds")
                last = Anchor(entry_id, entry_hash, at, key.id, _mac(key, entry_id, entry_hash, at))
                text = json.dumps(
                    {"id": last.id, "hash": last.hash, "at": at, "key": key.id, "mac": last.mac}
                )
                os.write(fd, (_separator(fd) + text + "\n").encode())
                os.fsync(fd)
                logger.info("audit anchor %s", text)
            _newest[file] = last
        finally:
            os.close(fd)


def _separator(fd):
    """A newline if the file ends in a torn line, so that the new anchor stands alone."""
    size = os.fstat(fd).st_size
    return "\n" if size and os.pread(fd, 1, size - 1) != b"\n" else ""


def _tail(file):
    """The newest anchor in the file, or None (none, or the last line is torn)."""
    try:
        with open(file, "rb") as f:
            f.seek(max(0, f.seek(0, os.SEEK_END) - TAIL))
            lines = f.read().splitlines()
        return _parse(lines[-1].decode(), 0) if lines else None
    except FileNotFoundError:
        return None
    except (ValueError, KeyError, TypeError):
        return None


def _parse(text, number):
    record = json.loads(text)
    if not (isinstance(record["id"], int) and isinstance(record["at"], str)):
        raise ValueError("not an anchor")
    return Anchor(
        record["id"], str(record["hash"]), record["at"], str(record["key"]), str(record["mac"]), number
    )


def _mac(key, entry_id, entry_hash, at):
    return key.digest(json.dumps([entry_id, entry_hash, at]).encode())


def _schedule(file):
    last = _newest.get(file)
    delay = max(0.0, settings.AUDIT_ANCHOR_SECONDS - last.age()) if last else 0.0
    with _lock:
        if file in _timers:
            return
        timer = _timers[file] = threading.Timer(delay, _on_timer, (file,))
    timer.daemon = True
    timer.start()


def _on_timer(file):
    with _lock:
        _timers.pop(file, None)
    try:
        anchor_head(file)
    except Exception:
        logger.exception("could not anchor the audit chain in %s", file)
    finally:
        connection.close()  # this thread's own connection


@atexit.register
def _at_exit():
    """A normal exit writes at once the anchors that pending timers would have."""
    for file, timer in list(_timers.items()):
        timer.cancel()
        try:
            anchor_head(file)
        except Exception:
            logger.exception("could not anchor the audit chain in %s", file)
