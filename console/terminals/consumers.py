"""Terminal websockets: `docker exec -it` and `docker attach`, built on ActionConsumer
(console/streams/consumers.py: authorized in connect() before accept(), an audited
session, the output read in the socket's own thread and handed over through SLOTS).

Frames, both ways: binary frames are terminal bytes (UTF-8 cut anywhere is the
browser's to join: xterm.js decodes a byte stream). Text frames are JSON:
- from the page: {"t": "resize", "cols", "rows"};
- to the page: {"t": "open", "kind", "tty", "input", "detach_keys"}, {"t": "ack", "n"}
  (n input bytes were written to the process), {"t": "viewers", "names"} (attach),
  {"t": "end", "notice", "exit_code", "failed"}, after which the socket closes (4000).

Input has a window: the page sends at most INPUT_WINDOW bytes not yet acknowledged
(static/js/terminal.js waits for acks); a client that sends more is cut off (4400).
So a paste faster than the process reads waits in the browser, never in the server.
Input on a read-only attach is refused, recorded as a denial, and closes the socket.
"""

import asyncio
import json
import queue
import threading
from collections import deque
from contextlib import suppress

from asgiref.sync import sync_to_async
from django.db import connections

from console.actions import Target, refuse
from console.errors import WharfError
from console.streams.consumers import BAD_INPUT, DENIED, ENDED, ActionConsumer, End
from console.terminals import services, viewers

INPUT_WINDOW = 64 * 1024  # bytes of input the page may send ahead of the acknowledgements
LARGEST_COLS, LARGEST_ROWS = 1000, 500


class TerminalConsumer(ActionConsumer):
    """A terminal session: `open()` (subclass) sets `self.session`."""

    SLOTS = 8
    kind = ""

    def setup(self):
        self.outbox = deque()  # bytes and End from the thread (one slot each), dicts from the loop
        self.wake = asyncio.Event()
        self.input = queue.Queue()  # bounded by INPUT_WINDOW, checked in receive()
        self.unacked = 0
        self.ended = False
        self.writer = None

    async def started(self):
        await self.send(text_data=json.dumps(self.open_message()))  # first: it says how to read the rest
        self.spawn(self._send_loop())

    def open_message(self):
        return {"t": "open", "kind": self.kind, "tty": self.session.tty, "input": True}

    # --- the socket's threads ---

    def pump(self):
        self.writer = threading.Thread(target=self._write_loop, daemon=True, name=f"ws-{self.action}-input")
        self.writer.start()
        while data := self.session.read():
            if not self.hand_over(data):
                break
        if self.gone.is_set():
            return "closed by the browser"
        return self.session.end_notice()

    def _write_loop(self):
        try:
            while (item := self.input.get()) is not None:
                if isinstance(item, tuple):
                    with suppress(WharfError):  # a resize refused (not running) changes nothing
                        self.session.resize(*item)
                    continue
                try:
                    self.session.write(item)
                except Exception:  # noqa: BLE001 - the connection broke: the reader ends the session
                    self.session.cancel()
                    return
                self._to_loop(self._acknowledge, len(item))
        finally:
            connections.close_all()

    def close_source(self):
        self.session.cancel()
        self.input.put(None)

    def finish(self, note, failure):
        self.input.put(None)
        if self.writer is not None:
            self.writer.join()
        self.session.finish(note, failure)

    # --- the event loop ---

    def deliver(self, item):
        self.post(item)
        return False  # the slot stays taken until it is sent

    def post(self, item):
        self.outbox.append(item)
        self.wake.set()

    def _acknowledge(self, size):
        self.unacked -= size
        if not self.ended:
            self.post({"t": "ack", "n": size})

    async def _send_loop(self):
        while True:
            while not self.outbox:
                self.wake.clear()
                await self.wake.wait()
            item = self.outbox.popleft()
            if isinstance(item, bytes):
                # output that waited behind the previous send goes in one frame
                blocks = [item]
                while self.outbox and isinstance(self.outbox[0], bytes):
                    blocks.append(self.outbox.popleft())
                await self.send(bytes_data=b"".join(blocks))
                for _ in blocks:
                    self.free_slot()
            elif isinstance(item, End):
                self.ended = True
                self.closed_by_browser = False
                code = self.session.exit_code
                await self.send(text_data=json.dumps({"t": "end", "notice": item.notice, "exit_code": code,
                                                      "failed": item.failed}))  # fmt: skip
                await self.close(code=ENDED, reason=item.notice[:120])
                return
            else:
                await self.send(text_data=json.dumps(item))

    async def receive(self, text_data=None, bytes_data=None):
        if self.ended or not hasattr(self, "session"):
            return
        if bytes_data is not None:
            await self.typed(bytes_data)
            return
        try:
            message = json.loads(text_data or "{}")
        except ValueError:
            return
        if isinstance(message, dict) and message.get("t") == "resize":
            cols, rows = message.get("cols"), message.get("rows")
            if isinstance(cols, int) and isinstance(rows, int) and 0 < cols <= LARGEST_COLS and 0 < rows <= LARGEST_ROWS:
                self.input.put((cols, rows))

    async def typed(self, data):
        self.unacked += len(data)
        if self.unacked > INPUT_WINDOW:
            self.ended = True
            await self.close(code=BAD_INPUT, reason="input sent faster than acknowledged")
            return
        self.input.put(data)


class ExecConsumer(TerminalConsumer):
    """`docker exec -it` (?cmd=&user=&workdir=&env=&cols=&rows=)."""

    action = "container.exec"
    kind = "exec"

    def open(self):
        kwargs = self.scope["url_route"]["kwargs"]
        options = services.ExecOptions.from_params(self.params)
        host = services.terminal_host(self.actor, self.action, kwargs["host"], kwargs["ref"])
        self.session = services.open_exec(actor=self.actor, host=host, ref=kwargs["ref"], options=options)


class AttachConsumer(TerminalConsumer):
    """`docker attach` (?input=&sig_proxy=&detach_keys=&start=&cols=&rows=). Everyone
    attached to a container is told who else is (console/terminals/viewers.py)."""

    action = "container.attach"
    kind = "attach"

    def open(self):
        kwargs = self.scope["url_route"]["kwargs"]
        self.options = services.AttachOptions.from_params(self.params)
        host = services.terminal_host(self.actor, self.options.code, kwargs["host"], kwargs["ref"])
        self.session = services.open_attach(actor=self.actor, host=host, ref=kwargs["ref"], options=self.options)

    def open_message(self):
        return {**super().open_message(), "input": self.options.input, "detach_keys": self.options.detach_keys,
                "sig_proxy": self.session.sig_proxy}  # fmt: skip

    async def started(self):
        await super().started()
        self.viewing = (self.session.host.pk, self.session.target.id)
        viewers.join(self.viewing, self, self.actor.name)

    async def disconnect(self, code):
        if getattr(self, "viewing", None):
            viewers.leave(self.viewing, self)
        await super().disconnect(code)

    def viewers_changed(self, names):
        if not self.ended:
            self.post({"t": "viewers", "names": names})

    async def typed(self, data):
        if self.options.input:
            await super().typed(data)
            return
        self.ended = True
        await sync_to_async(self._refuse_input, thread_sensitive=False)()
        await self.close(code=DENIED, reason="This terminal is read-only.")

    def _refuse_input(self):
        target = Target(self.session.target.id, self.session.target.name)
        try:
            refuse(self.actor, "container.attach_input", host=self.session.host, target=target,
                   reason="input sent on a read-only attach")  # fmt: skip
        finally:
            connections.close_all()
