"""Terminal session recordings: asciicast v2 files (https://docs.asciinema.org/manual/asciicast/v2/).

A header line, then one JSON array per event: [seconds since start, "o" | "i" | "r", data].
Output is always recorded; input only with WHARF_RECORD_INPUT=1. Past
WHARF_RECORDING_MAX_BYTES the file ends with a note that it was cut, and later events are
counted, not written. The file's SHA-256 is computed as it is written; `close()` returns
what the session's audit entry keeps (see console/audit: the hash is part of the chain).
"""

import codecs
import hashlib
import json
import os
import secrets
import threading
import time
from dataclasses import asdict, dataclass

from django.conf import settings


@dataclass(frozen=True)
class Recording:
    """What the audit entry of a session keeps about its recording."""

    file: str  # the name under RECORDINGS_DIR
    sha256: str
    bytes: int
    cut: bool

    def as_dict(self):
        return asdict(self)


def path_of(name):
    """The file of a recording, from its stored name (never a path given by a client)."""
    if not name or os.path.basename(name) != name or not name.endswith(".cast"):
        raise ValueError("not a recording name")
    return settings.RECORDINGS_DIR / name


class Recorder:
    """Writes one session. Thread-safe: output and input may come from two threads."""

    def __init__(self, *, width, height, title="", record_input=None, cap=None):
        self.cap = settings.RECORDING_MAX_BYTES if cap is None else cap
        self.record_input = settings.RECORD_INPUT if record_input is None else record_input
        settings.RECORDINGS_DIR.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.name = f"{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(8)}.cast"
        self._file = open(path_of(self.name), "xb")  # noqa: SIM115 - open for the session's life
        os.chmod(path_of(self.name), 0o600)
        self._hash = hashlib.sha256()
        self._size = 0
        self._lock = threading.Lock()
        self._decoders = {"o": codecs.getincrementaldecoder("utf-8")("replace"),
                          "i": codecs.getincrementaldecoder("utf-8")("replace")}  # fmt: skip
        self._start = time.monotonic()
        self.cut = False
        self.left_out = 0  # bytes of events after the cut
        header = {"version": 2, "width": int(width), "height": int(height), "timestamp": int(time.time())}
        if title:
            header["title"] = title
        self._write(header)

    def output(self, data: bytes):
        self._event("o", data)

    def input(self, data: bytes):
        if self.record_input:
            self._event("i", data)

    def resize(self, cols, rows):
        with self._lock:
            self._put("r", f"{int(cols)}x{int(rows)}")

    def close(self) -> Recording:
        with self._lock:
            if not self._file.closed:
                for kind, decoder in self._decoders.items():  # a character cut at the end
                    if tail := decoder.decode(b"", final=True):
                        self._put(kind, tail)
                if self.cut:
                    self._write([self._now(), "o", f"\r\n[recording cut: {self.left_out} more bytes not kept]\r\n"])
                self._file.close()
        return Recording(file=self.name, sha256=self._hash.hexdigest(), bytes=self._size, cut=self.cut)

    def _event(self, kind, data):
        with self._lock:
            text = self._decoders[kind].decode(data)
            if text:
                self._put(kind, text)

    def _put(self, kind, text):
        if self._file.closed:
            return
        if self.cut:
            self.left_out += len(text.encode())
            return
        line = self._line([self._now(), kind, text])
        if self._size + len(line) > self.cap:
            self.cut = True
            self.left_out += len(text.encode())
            return
        self._emit(line)

    def _now(self):
        return round(time.monotonic() - self._start, 6)

    def _write(self, value):
        self._emit(self._line(value))

    @staticmethod
    def _line(value):
        return (json.dumps(value, ensure_ascii=False, separators=(", ", ": ")) + "\n").encode()

    def _emit(self, line):
        self._file.write(line)
        self._file.flush()
        self._hash.update(line)
        self._size += len(line)
