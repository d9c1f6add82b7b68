"""Docker's log bytes as lines: the frames of a non-TTY container demultiplexed
(stdout and stderr told apart), lines reassembled across frames and reads (a TTY
container's log may arrive a byte at a time), each line split into Docker's timestamp
and its text.

A line is cut at the byte b"\\n" and only then decoded, so a UTF-8 character split
across frames or reads is whole again before it is decoded (b"\\n" never occurs inside
a multi-byte character). Timestamps are Docker's fixed-width RFC 3339 text
("2024-05-01T10:00:00.123456789Z"): they sort as text, and are the cursor that resumes
a stream.
"""

import re
import struct
from datetime import UTC, datetime, timedelta

HEADER = struct.Struct(">BxxxL")
STAMP = len("2024-05-01T10:00:00.123456789Z")
TIMESTAMP = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{9}Z")  # Docker's, of a line
STDERR = 2
MAX_LINE = 64 * 1024  # bytes: a longer line is cut (and goes on as the next line)
RELATIVE = re.compile(r"^([0-9]{1,9}(?:\.[0-9]{1,9})?)(s|m|h|d)$")
UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


class LineReader:
    """Feed Docker's bytes in, get (timestamp, stderr, text) tuples out."""

    def __init__(self, tty):
        self.tty = tty
        self.pending = b""  # a frame not complete yet (non-TTY)
        self.partial = {1: b"", STDERR: b""}  # a line not complete yet, per stream

    def feed(self, data):
        lines = []
        if self.tty:
            self._lines(1, data, lines)
            return lines
        buffer = self.pending + data if self.pending else data
        end, position, unpack, partial = len(buffer), 0, HEADER.unpack_from, self.partial
        append, find = lines.append, buffer.find
        while end - position >= 8:
            stream, size = unpack(buffer, position)
            start = position + 8
            position = start + size
            if position > end:
                position = start - 8
                break
            err = stream == STDERR
            # The usual frame: one whole line with its timestamp. Done inline, with one
            # decode (the timestamp is ASCII): this loop runs for every line of the log.
            if (
                size > STAMP and not partial[STDERR if err else 1] and buffer[position - 1] == 10 and buffer[start + STAMP] == 32
                and 48 <= buffer[start] <= 57 and find(b"\n", start, position - 1) < 0
            ):  # fmt: skip
                text = buffer[start : position - 1].decode("utf-8", "replace")
                append((text[:STAMP], err, text[STAMP + 1 :]))
            else:
                self._lines(STDERR if err else 1, buffer[start:position], lines)
        self.pending = buffer[position:]
        return lines

    def finish(self):
        """Lines left without their final b"\\n" when the stream ends."""
        lines = []
        for stream, rest in self.partial.items():
            if rest:
                lines.append(_line(rest, stream == STDERR, self.tty))
                self.partial[stream] = b""
        return lines

    def _lines(self, stream, payload, lines):
        err = stream == STDERR
        before = self.partial[stream]
        if not before and payload.endswith(b"\n") and payload.find(b"\n") == len(payload) - 1:
            lines.append(_line(payload[:-1], err, self.tty))  # the usual case: one whole line
            return
        parts = (before + payload).split(b"\n")
        rest = parts.pop()
        for part in parts:
            lines.append(_line(part, err, self.tty))
        while len(rest) > MAX_LINE:
            lines.append(_line(rest[:MAX_LINE], err, self.tty))
            rest = rest[MAX_LINE:]
        self.partial[stream] = rest


def _line(raw, err, tty):
    space = raw.find(b" ")
    if space < 0 or not raw[:4].isdigit():  # the cut rest of a long line: no timestamp
        stamp, text = "", raw
    else:
        stamp, text = raw[:space].decode("ascii", "replace"), raw[space + 1 :]
    if tty and text.endswith(b"\r"):
        text = text[:-1]
    return stamp, err, text.decode("utf-8", "replace")


# --- times -----------------------------------------------------------------------------


def docker_seconds(stamp):
    """Docker's timestamp text as its API's "seconds.nanoseconds" (no precision lost)."""
    whole, _, fraction = stamp.rstrip("Z").partition(".")
    seconds = int(datetime.fromisoformat(whole).replace(tzinfo=UTC).timestamp())
    return f"{seconds}.{(fraction + '000000000')[:9]}"


def parse_time(text, now=None):
    """What a person types for `--since`/`--until`: a relative age ("10m", "2h", "1.5d",
    "30s"), Unix seconds, or a date and time (ISO 8601, UTC unless it says otherwise).
    Docker's "seconds.nanoseconds"; ValueError with a plain message otherwise."""
    text = (text or "").strip()
    if not text:
        return ""
    match = RELATIVE.match(text)
    if match:
        try:
            then = (now or datetime.now(UTC)) - timedelta(seconds=float(match[1]) * UNITS[match[2]])
        except OverflowError:
            raise ValueError(f"Not a time: {text!r} goes back before the year 1.") from None
        return f"{then.timestamp():.9f}"
    if re.fullmatch(r"[0-9]{1,12}(\.[0-9]{1,9})?", text):
        return text
    if TIMESTAMP.fullmatch(text):
        return docker_seconds(text)
    try:
        when = datetime.fromisoformat(text.replace(" ", "T"))
    except ValueError:
        raise ValueError(
            f"Not a time: {text!r}. Use a date and time (2024-05-01T10:00:00), "
            "Unix seconds, or an age such as 10m, 2h or 1d."
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return f"{when.timestamp():.9f}"
