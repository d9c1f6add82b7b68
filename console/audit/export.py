"""Exports of the audit trail (CSV, JSON, JSON lines): one service for the page and the command.

Entries are read in id-keyset batches (oldest first, BATCH at a time), encoded batch
by batch and handed on as bytes: an export of a million entries never holds more
than one batch in memory.
"""

import csv
import io
import json
from contextlib import ExitStack

from console.actions import long_action
from console.audit.selectors import chain_end, entries
from console.errors import WharfError

BATCH = 2000
FIELDS = (
    "id", "time", "actor_id", "actor_name", "source_ip", "user_agent", "request_id", "action",
    "host_name", "target_type", "target_id", "target_name", "params", "outcome", "error",
    "duration_ms", "size_bytes", "prev_hash", "hash", "end_hash", "key_id", "recording",
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


TIME, PARAMS, RECORDING = FIELDS.index("time"), FIELDS.index("params"), FIELDS.index("recording")
# Text anyone can put on the record (a failed login's username, a container's name).
FREE_TEXT = tuple(FIELDS.index(f) for f in ("actor_name", "user_agent", "target_id", "target_name", "error"))
FORMULA = ("=", "+", "-", "@", "\t", "\r")


def _csv_row(row):
    cells = list(row)
    cells[TIME] = cells[TIME].isoformat(timespec="microseconds")
    cells[PARAMS] = json.dumps(cells[PARAMS], sort_keys=True)
    if cells[RECORDING] is not None:
        cells[RECORDING] = json.dumps(cells[RECORDING], sort_keys=True)
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

    def __init__(self, actor, fmt, filters, **params):
        through_id = chain_end()  # a snapshot: not the export's own entry, nor later ones
        self._stack = ExitStack()
        params = {"filters": filters.active(), "format": fmt, **params}
        self.progress = self._stack.enter_context(long_action(actor, "audit.export", params=params))
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
