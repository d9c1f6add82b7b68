"""Replaying a terminal session from the audit trail: its page, and its recording read
back (played in that page, or downloaded as a `.cast` for asciinema).

Showing the page is a plain `audit.view` read. Reading the recording itself shows what
was typed and seen in the session, so, like an export, it is always on the trail: a long
`audit.view` action (recorded whatever AUDIT_READS says) naming the entry and its file,
completed with the bytes sent, or "cancelled" when the reader went away.
"""

from dataclasses import dataclass

from console.actions import Target, authorize, long_action, perform
from console.audit import recordings, selectors
from console.errors import NotFound

CONTENT_TYPE = "application/x-asciicast"  # what asciinema's own server answers


@dataclass
class Replay:
    entry: object
    problem: str | None  # why the file is not what the entry sealed (`audit verify` says it too)


def _recorded(entry):
    if entry is None or entry.recording is None:
        raise NotFound("No such recording.")
    return entry


def replay_page(*, actor, pk):
    """The entry of a recorded session, and whether its file still holds."""
    entry = _recorded(perform(actor, "audit.view", target=Target(id=pk), run=lambda: selectors.audit_entry(pk)))
    return Replay(entry, recordings.fault(entry.recording))


def recording_read(*, actor, pk):
    """(entry, blocks): the bytes of an entry's recording; its audit entry ends with them.
    Refused, missing, or without its file: raised here, before any response."""
    authorize(actor, "audit.view", target=Target(id=pk))
    entry = _recorded(selectors.audit_entry(pk))
    name = entry.recording["file"]

    def body():
        target = Target(id=pk, name=f"recording of #{pk}")
        with long_action(actor, "audit.view", target=target, params={"recording": name}) as progress:
            try:
                file = recordings.opened(entry.recording)
            except (OSError, ValueError):
                raise NotFound(f"The file of this recording is missing ({name}).") from None
            with file:
                yield None
                while block := file.read(recordings.BLOCK):
                    progress.size += len(block)
                    yield block

    chunks = body()
    next(chunks)  # authorized, audited, and the file is there: errors come before the response
    return entry, chunks
