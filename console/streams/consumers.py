"""Websocket consumers. `ActionConsumer` is the base every stream (logs, terminals)
builds on: one socket is one action of the action layer.

- `connect()` authorizes BEFORE `accept()`: a refusal closes the handshake with a code
  and a reason (below) and is on the record; nothing is sent to a refused client.
- All blocking work of a socket (Docker, the database) runs in ONE thread of its own,
  never on the event loop nor in the shared thread of `sync_to_async`: a stuck daemon
  stalls only its own sockets. The thread opens the session, runs `pump()`, then waits
  for the socket to close and completes the audit entry.
- The thread hands data to the event loop through a bounded number of slots
  (`hand_over`), so neither side queues without bound; the loop side decides what a
  slow browser gets (see `LogConsumer`).
- `disconnect()` cancels the socket's tasks and `close_source()` unblocks the thread.

Close codes (the page reads them; daphne turns a close before accept into an HTTP 403,
so the browser only sees that the socket never opened):
4000 the stream ended (the reason says why), 4400 bad options, 4401 not logged in,
4403 not allowed, 4404 no such container (or one the user may not see), 4502 the
host failed.
"""

import asyncio
import json
import logging
import queue
import threading
import uuid
from urllib.parse import parse_qs

from channels.consumer import get_handler_name
from channels.generic.websocket import AsyncWebsocketConsumer
from django.db import connections

from console.actions import Actor
from console.errors import ActionDenied, DockerNotFound, InvalidInput, NotFound, WharfError
from console.hosts.services import host_for
from console.images import transfer
from console.middleware import NOT_FOUND
from console.streams import events, services, stats

log = logging.getLogger("wharf.streams")

ENDED, BAD_INPUT, LOGGED_OUT, DENIED, ABSENT, HOST_FAILED = 4000, 4400, 4401, 4403, 4404, 4502


def refusal(actor, exc):
    """(close code, reason) for an exception raised while opening a session."""
    if isinstance(exc, InvalidInput):
        return BAD_INPUT, str(exc)
    if actor.user is None:
        return LOGGED_OUT, "Log in again."
    if isinstance(exc, (NotFound, DockerNotFound)):  # hidden or missing: the same answer
        return ABSENT, NOT_FOUND
    if isinstance(exc, ActionDenied):
        return DENIED, str(exc)
    if isinstance(exc, WharfError):
        return HOST_FAILED, str(exc)
    log.error("a stream could not be opened", exc_info=exc)
    return HOST_FAILED, "internal error (see the server log)"


class End:
    """Handed over when the source ended by itself: why, and whether it failed."""

    def __init__(self, notice, failed=False):
        self.notice, self.failed = notice, failed


class ActionConsumer(AsyncWebsocketConsumer):
    """Base of the console's websockets (see the module's docstring).

    A subclass sets `action` and implements `setup()` (its state); in the socket's
    thread: `open()` (authorize and open, or raise), `pump()` (the blocking loop;
    `hand_over()` what it reads; return the end notice), `finish(note, failure)`
    (complete the audit entry); on the event loop: `close_source()` (must not block),
    `deliver(item)` (an item handed over; returning False keeps its slot taken, so that
    the thread waits, until `free_slot()`), and optionally `started()` once accepted."""

    action = ""
    SLOTS = 4  # items handed over and not yet taken by the event loop
    closed_by_browser = True  # set False by a subclass when it closes the socket itself

    async def connect(self):
        self.loop = asyncio.get_running_loop()
        self.actor = Actor.from_scope(self.scope, request_id=uuid.uuid4().hex)
        self.params = {k: v[-1] for k, v in parse_qs(self.scope.get("query_string", b"").decode()).items()}
        self.gone = threading.Event()  # the socket is closed: the thread stops and finishes
        self.slots = Slots(self.SLOTS)
        self.tasks = []
        self.held = 0  # slots the subclass keeps taken (backpressure on the thread)
        self.setup()
        opened = self.loop.create_future()
        self.thread = threading.Thread(target=self._work, args=(opened,), daemon=True, name=f"ws-{self.action}")
        self.thread.start()
        try:
            await opened
        except Exception as exc:  # noqa: BLE001 - every refusal closes the handshake
            self.thread = None
            code, reason = refusal(self.actor, exc)
            await self.close(code=code, reason=reason)
            return
        await self.accept()
        await self.started()

    def setup(self):
        """The socket's state, before its thread starts (items may come before accept)."""

    async def dispatch(self, message):
        """As Channels' own, without closing stale database connections before each
        message (a hop to the sync thread per acknowledgement): the database is used only
        in the socket's own thread, which closes its connections when it ends."""
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def started(self):
        """Accepted: start the tasks that send."""

    async def disconnect(self, code):
        for task in self.tasks:
            task.cancel()
        self.gone.set()
        self.slots.release(self.SLOTS)  # a thread waiting for a slot wakes and sees `gone`
        if getattr(self, "thread", None) is not None:
            self.close_source()

    def spawn(self, coroutine):
        self.tasks.append(asyncio.ensure_future(coroutine))

    # --- the socket's thread ---

    def _work(self, opened):
        try:
            try:
                self.open()
            except BaseException as exc:
                self._to_loop(_settle, opened, exc)
                return
            self._to_loop(_settle, opened, None)
            failure = None
            try:
                notice = self.pump()
            except WharfError as exc:
                notice, failure = str(exc), exc
            except Exception as exc:
                log.exception("stream %s failed", self.action)
                notice, failure = "internal error (see the server log)", exc
            if not self.gone.is_set():
                self.hand_over(End(notice, failed=failure is not None))
            self.gone.wait()
            self.finish(notice if not self.closed_by_browser else "closed by the browser", failure)
        except Exception:
            log.exception("stream %s: its session could not be completed", self.action)
        finally:
            connections.close_all()

    def hand_over(self, item):
        """Give `item` to the event loop (blocks while every slot is taken); False once
        the socket is gone."""
        self.slots.acquire()
        if self.gone.is_set():
            return False
        return self._to_loop(self._take, item)

    def _take(self, item):
        if self.gone.is_set() or self.deliver(item) is not False:
            self.slots.release()
        else:  # kept: the thread waits until the subclass calls `free_slot()`
            self.held += 1

    def free_slot(self):
        if self.held:
            self.held -= 1
            self.slots.release()

    def _to_loop(self, fn, *args):
        try:
            self.loop.call_soon_threadsafe(fn, *args)
        except RuntimeError:  # the loop is closed: the server is going away
            self.gone.set()
            return False
        return True


class Slots:
    """A counting semaphore in C (`queue.SimpleQueue` of tokens): the event loop releases
    one per item the browser took, so it must cost little (threading.Semaphore is Python)."""

    def __init__(self, count):
        self._tokens = queue.SimpleQueue()
        self.release(count)

    def acquire(self):
        self._tokens.get()

    def release(self, n=1):
        for _ in range(n):
            self._tokens.put(None)


def _settle(future, exc):
    if future.cancelled():
        return
    if exc is None:
        future.set_result(None)
    else:
        future.set_exception(exc)


# --- container logs -----------------------------------------------------------------------


BATCH_LINES = 1000  # lines in one message at most
BATCH_SECONDS = 0.05  # a line waits at most this long for others to share its message
WINDOW = 16  # messages sent and not yet acknowledged by the page
MAX_PENDING_LINES = 10_000  # kept for a page that is behind; past that, lines are skipped
MAX_PENDING_BYTES = 4 * 1024 * 1024


class Skipped:
    """Lines left out for a page that was behind: how many, and their time range."""

    def __init__(self):
        self.count, self.first, self.last = 0, "", ""

    def add(self, lines):
        self.count += len(lines)
        self.first = self.first or lines[0][0]
        self.last = lines[-1][0]


class LogConsumer(ActionConsumer):
    """`docker logs -t [-f]` of one container: messages of lines [timestamp, stderr, text]
    in batches; the page acknowledges each batch ({"ack": n}) and at most WINDOW are
    unacknowledged. Lines that arrive while the page is that far behind wait in a bounded
    buffer. Past it, a followed (live) log goes on without the page: lines are counted,
    not kept, and the page is told ("skipped", with their time range, which it can fetch
    over HTTP). A log read to its end (no follow) is history: reading from Docker waits
    for the page instead (backpressure), and nothing is skipped."""

    action = "container.logs"

    def open(self):
        kwargs = self.scope["url_route"]["kwargs"]
        options = services.LogOptions.from_params(self.params)
        self.follow = options.follow
        host = services.stream_host(self.actor, "container.logs", kwargs["host"], kwargs["ref"])
        self.session = services.open_logs(actor=self.actor, host=host, ref=kwargs["ref"], options=options)

    def pump(self):
        for item in self.session.batches():
            if not self.hand_over(item):
                break
        if self.gone.is_set():
            return "closed by the browser"
        return self.session.end_notice()

    def close_source(self):
        self.session.close()

    def finish(self, note, failure):
        self.session.finish(self.sent_lines, self.sent_bytes, note, failure)

    def setup(self):
        self.pending, self.pending_bytes, self.skipped, self.end = [], 0, None, None
        self.in_flight, self.batch_number, self.sent_lines, self.sent_bytes = 0, 0, 0, 0
        self.last_sent = 0.0  # when the last batch went (the loop's clock)
        self.wake = asyncio.Event()

    async def started(self):
        self.spawn(self._send_loop())

    def deliver(self, item):
        self.wake.set()
        if isinstance(item, End):
            self.end = item
            return True
        lines, size = item
        full = len(self.pending) + len(lines) > MAX_PENDING_LINES or self.pending_bytes + size > MAX_PENDING_BYTES
        if (self.skipped is None and not full) or not self.follow:
            self.pending.extend(lines)
            self.pending_bytes += size
            return not full  # history: over the bound, the thread waits for room
        self.skipped = self.skipped or Skipped()  # behind a live log: count, don't keep
        self.skipped.add(lines)
        return True

    async def receive(self, text_data=None, bytes_data=None):
        try:
            message = json.loads(text_data or "{}")
        except ValueError:
            return
        if isinstance(message, dict) and "ack" in message and self.in_flight:
            self.in_flight -= 1
            self.wake.set()

    async def _send_loop(self):
        while True:
            await self.wake.wait()
            self.wake.clear()
            await self._gather()
            while self.pending and self.in_flight < WINDOW:
                await self._send_lines()
            if not self.pending and self.skipped is not None:
                skipped, self.skipped = self.skipped, None
                await self._send({"t": "skipped", "count": skipped.count, "since": skipped.first, "until": skipped.last})
            if self.end is not None and not self.pending and self.skipped is None:
                await self._send({"t": "end", "notice": self.end.notice, "failed": self.end.failed})
                self.closed_by_browser = False
                await self.close(code=ENDED, reason=self.end.notice[:120])
                return

    async def _gather(self):
        """Let a batch fill for up to BATCH_SECONDS while lines come fast (the last batch
        went less than that ago); a line of a quiet log goes at once."""
        if self.loop.time() - self.last_sent >= BATCH_SECONDS:
            return
        deadline = self.loop.time() + BATCH_SECONDS
        while len(self.pending) < BATCH_LINES and self.end is None and (left := deadline - self.loop.time()) > 0:
            self.wake.clear()
            try:
                await asyncio.wait_for(self.wake.wait(), left)
            except TimeoutError:
                break

    async def _send_lines(self):
        self.last_sent = self.loop.time()
        lines = self.pending[:BATCH_LINES]
        del self.pending[:BATCH_LINES]
        # the bytes of what is left, in proportion (a bound, not an account)
        self.pending_bytes = self.pending_bytes * len(self.pending) // (len(self.pending) + len(lines))
        self.batch_number += 1
        self.in_flight += 1
        self.sent_lines += len(lines)
        if len(self.pending) < MAX_PENDING_LINES and self.pending_bytes < MAX_PENDING_BYTES:
            self.free_slot()
        await self._send({"t": "lines", "n": self.batch_number, "lines": lines})

    async def _send(self, message):
        text = json.dumps(message, ensure_ascii=False, separators=(",", ":"))
        self.sent_bytes += len(text)
        await self.send(text_data=text)


# --- host events ----------------------------------------------------------------------------


class QueuedConsumer(ActionConsumer):
    """A consumer that sends what its thread hands over one message at a time, in order:
    `encode(item)` gives the text of one; an End closes the socket after
    `end_message(end)`. An item's slot is freed once it is sent (backpressure)."""

    def setup(self):
        self.outbox = asyncio.Queue()

    async def started(self):
        self.spawn(self._send_loop())

    def deliver(self, item):
        self.outbox.put_nowait(item)
        return False  # the slot stays taken until the message is sent

    def end_message(self, end):
        return {"t": "end", "notice": end.notice}

    async def _send_loop(self):
        while True:
            item = await self.outbox.get()
            if isinstance(item, End):
                self.closed_by_browser = False
                await self.send(text_data=json.dumps(self.end_message(item)))
                await self.close(code=ENDED, reason=item.notice[:120])
                return
            await self.send(text_data=self.encode(item))
            self.free_slot()


class FeedConsumer(QueuedConsumer):
    """A queued consumer reading a feed's session (events, stats): the session's entry
    records how many items and bytes were sent, as `counted` tallies them."""

    def setup(self):
        super().setup()
        self.sent, self.sent_bytes = 0, 0

    def counted(self, message, items):
        text = json.dumps(message, separators=(",", ":"))
        self.sent += items
        self.sent_bytes += len(text)
        return text

    def close_source(self):
        self.session.close()

    def finish(self, note, failure):
        self.session.finish(self.sent, self.sent_bytes, note, failure)


class EventConsumer(FeedConsumer):
    """`docker events` of one host, from the host's shared feed (console/streams/events.py),
    filtered for this user and page. Messages: {"t": "event", ...the event},
    {"t": "notice", "text", "up"} (the host went away or came back), {"t": "skipped",
    "count"} (the page was too slow: it reloads). The thread waits while SLOTS messages
    are unsent; meanwhile the feed queues for this socket, boundedly, then counts."""

    action = "host.events"

    def open(self):
        filters = events.EventFilter.from_params(self.params)
        host = services.stream_host(self.actor, "host.events", self.scope["url_route"]["kwargs"]["host"])
        self.session = events.open_events(actor=self.actor, host=host, filters=filters)

    def pump(self):
        while (item := self.session.next()) is not None:
            if not self.hand_over(item):
                break
        return "closed by the browser"

    def encode(self, item):
        if isinstance(item, events.Skipped):
            return self.counted({"t": "skipped", "count": item.count}, items=0)
        if isinstance(item, events.Notice):
            return self.counted({"t": "notice", "text": item.text, "up": item.up}, items=0)
        return self.counted({"t": "event", **item}, items=1)


# --- container stats ------------------------------------------------------------------------


class StatsConsumer(FeedConsumer):
    """`docker stats` of one container (/containers/<ref>/stats/) or of the host's running
    containers the user may see (/stats/), from the shared per-container feeds
    (console/streams/stats.py). Messages: {"t": "stats", "rows", "down", "gone"} with the
    latest of each container; a container page's stream ends when its container is
    removed. One message waits for the browser at most: meanwhile the feeds' newer
    samples replace the older ones (a slow page gets the latest, not a queue)."""

    action = "container.stats"
    SLOTS = 1

    def open(self):
        kwargs = self.scope["url_route"]["kwargs"]
        host = services.stream_host(self.actor, "container.stats", kwargs["host"])
        if "ref" in kwargs:
            self.session = stats.open_container_stats(actor=self.actor, host=host, ref=kwargs["ref"])
        else:
            self.session = stats.open_host_stats(actor=self.actor, host=host)

    def pump(self):
        while (message := self.session.next()) is not None:
            if not self.hand_over(message):
                break
            if self.session.ended:
                return self.session.ended
        return "closed by the browser"

    def encode(self, item):
        return self.counted(item, items=1)


# --- image pulls and pushes ---------------------------------------------------------------


class TransferConsumer(QueuedConsumer):
    """`docker pull` or `docker push` of `?ref=` on one host (the page opens a socket
    per host): JSON messages {"t": "progress", "layers": {id: {status, current,
    total}}, "total": [bytes done, bytes], "status"} coalesced by the service, then
    {"t": "end", "notice", "failed"}. Closing the socket (the Cancel button) cancels the
    transfer. At most SLOTS messages wait for the browser: the thread waits behind them."""

    def open(self):
        opener = transfer.open_pull if self.action == "image.pull" else transfer.open_push
        host = host_for(self.actor, self.scope["url_route"]["kwargs"]["host"])  # hidden looks missing
        self.session = opener(actor=self.actor, host=host, text=self.params.get("ref", ""))

    def pump(self):
        for update in self.session.updates():
            if not self.hand_over(update):
                break
        return self.session.end_notice()

    def close_source(self):
        self.session.cancel()

    def finish(self, note, failure):
        self.session.finish(note, failure)

    def encode(self, item):
        return json.dumps({"t": "progress", **item}, separators=(",", ":"))

    def end_message(self, end):
        return {"t": "end", "notice": end.notice, "failed": end.failed}


class PullConsumer(TransferConsumer):
    action = "image.pull"


class PushConsumer(TransferConsumer):
    action = "image.push"
