"""Sending a long download (an export, a file, an image) without holding it in memory.

Under ASGI, Django gathers a plain iterator into one list before sending it; a
download is therefore handed over as an async iterator whose every step reads the
next chunk in a worker thread of our own (never the event loop, never the shared
thread-sensitive thread). The chunks' `close()` runs when the transfer ends or the
client goes away, which is when a long action completes its audit entry.
"""

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

from django.core.handlers.asgi import ASGIRequest
from django.db import connections
from django.http import StreamingHttpResponse
from django.utils.http import content_disposition_header

_transfers = ThreadPoolExecutor(max_workers=32, thread_name_prefix="download")


def download_response(request, chunks, filename, content_type, size=None):
    """A streamed attachment from `chunks` (an iterator with `close()`)."""
    body = _in_thread(chunks) if isinstance(request, ASGIRequest) else chunks
    response = StreamingHttpResponse(body, content_type=content_type)
    response["Content-Disposition"] = content_disposition_header(True, filename)
    response["X-Content-Type-Options"] = "nosniff"
    if size is not None:
        response["Content-Length"] = str(size)
    return response


async def _in_thread(chunks):
    loop = asyncio.get_running_loop()
    done, turn = object(), threading.Lock()  # a cancelled read may still be running: close after it
    try:
        while (chunk := await loop.run_in_executor(_transfers, _step, chunks, done, turn)) is not done:
            yield chunk
    finally:
        await loop.run_in_executor(_transfers, _close, chunks, turn)


def _step(chunks, done, turn):
    with turn:
        try:
            chunk = next(chunks, done)
        except BaseException:
            connections.close_all()  # an audit entry may have been completed from this thread
            raise
    if chunk is done:
        connections.close_all()
    return chunk


def _close(chunks, turn):
    with turn:
        chunks.close()
    connections.close_all()
