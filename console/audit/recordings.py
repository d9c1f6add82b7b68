"""Terminal session recordings, on the audit trail's side.

`console.terminals.recording` writes a session's asciicast file; the session's entry keeps
{file, sha256, bytes, cut}, sealed with its outcome (`chain.ending_hash`). Here: the file
held against what its entry keeps (`audit verify`), read back for a replay, and deleted
with its entry by a purge. A file is only ever found by the name its entry stores.
"""

import hashlib

from console.terminals.recording import path_of

BLOCK = 1 << 20


def path(recording):
    """The file of an entry's recording (ValueError for a name that is not one)."""
    name = recording.get("file") if isinstance(recording, dict) else None
    if not isinstance(name, str):
        raise ValueError("not a recording name")
    return path_of(name)


def fault(recording):
    """Why an entry's recording no longer is what the entry sealed; None if it is."""
    try:
        file = path(recording)
    except ValueError:
        return "its recording names no recording file"
    digest, size = hashlib.sha256(), 0
    try:
        with open(file, "rb") as f:
            while block := f.read(BLOCK):
                digest.update(block)
                size += len(block)
    except FileNotFoundError:
        return f"its recording {file.name} is missing"
    except OSError as exc:
        return f"its recording {file.name} cannot be read ({exc.strerror})"
    if size != recording.get("bytes") or digest.hexdigest() != recording.get("sha256"):
        return f"its recording {file.name} was altered: its SHA-256 no longer matches the entry"
    return None


def opened(recording):
    """The file of an entry's recording, open for reading (OSError or ValueError if not)."""
    return open(path(recording), "rb")  # noqa: SIM115 - the caller closes it


def remove(recordings):
    """Delete the files of these (purged) entries' recordings; returns how many went."""
    removed = 0
    for recording in recordings:
        try:
            path(recording).unlink()
        except (ValueError, FileNotFoundError):
            continue
        removed += 1
    return removed
