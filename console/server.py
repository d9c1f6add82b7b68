"""Daphne, bounded: what a client sends or fails to read cannot grow the server.

Daphne (4.2) as it ships receives a whole request body before the application sees
it, lets Twisted parse a form body into memory, queues the body to the application all
at once, and writes every response chunk the application sends without waiting for the
client. This module extends its classes (it copies none of its code):

- a body over its limit is refused with 413 as soon as that is known: from the
  Content-Length header before a byte of the body is read, or once a chunked body
  passes it. The limit is `settings.MAX_BODY_BYTES`, or for the paths in `LARGE_BODIES`
  their own setting; a body over the general limit on such a path is read only for a
  logged-in session (checked before reading it), so an anonymous client cannot make the
  server spool more than `MAX_BODY_BYTES` to disk either;
- the body (in memory under 100 KB, spooled to a temporary file above, as Twisted
  does) is handed to the application one `BODY_CHUNK` at a time, as it asks for it;
- each `http.response.body` and `websocket.send` the application sends waits until the
  transport's write buffer has drained (Twisted's producer/consumer), so a slow reader
  slows the stream instead of growing the server.

Run: `python -m console.server [-b ADDRESS] [-p PORT] [other daphne options]`.
"""

import asyncio
import io
import re
import sys
from importlib import import_module
from urllib.parse import unquote

from daphne.server import Server  # first: it installs the asyncio reactor  # isort: skip
from daphne.cli import CommandLineInterface
from daphne.http_protocol import HTTPFactory, WebRequest
from daphne.ws_protocol import WebSocketProtocol
from django.conf import settings
from django.db import connections
from twisted.internet import threads

APPLICATION = "console.asgi:application"
BODY_CHUNK = 1024 * 1024  # bytes of request body per message to the application
FORM_OVERHEAD = 1024 * 1024  # what a multipart form adds around the files it carries

# Paths that may take a body over MAX_BODY_BYTES (from a logged-in session only), each
# with the setting that holds its limit. Matched against the request's decoded path.
LARGE_BODIES = [
    (re.compile(r"/hosts/[^/]+/containers/[^/]+/files/upload/"), "CONTAINER_UPLOAD_MAX_BYTES"),
    (re.compile(r"/hosts/[^/]+/images/(?:load|import)/"), "IMAGE_UPLOAD_MAX_BYTES"),
]


def body_limit(path):
    """The largest request body accepted for `path`, in bytes."""
    for pattern, setting in LARGE_BODIES:
        if pattern.fullmatch(path):
            return getattr(settings, setting) + FORM_OVERHEAD
    return settings.MAX_BODY_BYTES


def logged_in(session_key):
    """Whether the session is a live login (Django's own check, as for a request)."""
    from django.contrib.auth import get_user
    from django.http import HttpRequest

    request = HttpRequest()
    request.session = import_module(settings.SESSION_ENGINE).SessionStore(session_key)
    try:
        return get_user(request).is_authenticated
    finally:
        connections.close_all()  # this thread's, from Twisted's pool


class Paced:
    """The push-producer side of a connection, for Twisted: the transport pauses its
    producer while its write buffer is over its bound (64 KiB) and resumes it once the
    client has taken it. `writable` is clear in between; WharfServer's send waits on it."""

    def pace(self):
        self.writable = asyncio.Event()
        self.writable.set()

    def pauseProducing(self):
        self.writable.clear()

    def resumeProducing(self):
        self.writable.set()

    def stopProducing(self):
        self.writable.set()  # the connection is going: nothing is to wait for


class BoundedRequest(Paced, WebRequest):
    """Daphne's request with a body limit, a body fed on demand and a response that
    waits for the client (it is the transport's producer while it answers)."""

    def __init__(self, *args, **kwargs):
        # Twisted would parse a whole form body into memory for request.args (unused).
        super().__init__(*args, parsePOSTFormSubmission=False, **kwargs)
        self.limit = settings.MAX_BODY_BYTES
        self.received = 0
        self.refused = False
        self.body_file = None
        self.pace()

    # --- the request body ---------------------------------------------------------

    def gotLength(self, length):
        """The headers are in; `length` is None for a chunked body."""
        super().gotLength(length)
        # Twisted keeps the request line's target on the channel until the body is in.
        path = unquote(self.channel._path.split(b"?", 1)[0].decode("ascii", "replace"))
        self.limit = body_limit(path)
        if length is not None and length > self.limit:
            self.refuse("The request body is over the limit.")
        elif self.limit > settings.MAX_BODY_BYTES and (length is None or length > settings.MAX_BODY_BYTES):
            self.hold_for_login()

    def handleContentChunk(self, data):
        if self.refused:
            return
        self.received += len(data)
        if self.received > self.limit:
            self.refuse("The request body is over the limit.")
            return
        super().handleContentChunk(data)

    def hold_for_login(self):
        """Read no more of the body until the session cookie is known to be a login."""
        key = self.received_cookies.get(settings.SESSION_COOKIE_NAME.encode())
        if not key:
            self.refuse("A body this large needs a logged-in session.")
            return
        self.transport.pauseProducing()
        checked = threads.deferToThread(logged_in, key.decode("latin-1"))
        checked.addErrback(lambda _failure: False)
        checked.addCallback(self._login_checked)

    def _login_checked(self, ok):
        if self._disconnected or self.refused:
            return
        if ok:
            self.transport.resumeProducing()
        else:
            self.refuse("A body this large needs a logged-in session.")

    def refuse(self, reason):
        """Answer 413 and close, whatever is still on its way (nothing more is read)."""
        self.refused = True
        self.requestHeaders.removeHeader(b"Expect")  # no "100 Continue" after this
        body = reason.encode() + b"\n"
        self.transport.write(
            b"HTTP/1.1 413 Content Too Large\r\nContent-Type: text/plain; charset=utf-8\r\n"
            b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body)
        )
        self.channel.loseConnection()

    def process(self):
        # Daphne would queue the whole body at once: it is shown an empty one, and the
        # application reads the real one through BodyFeed (WharfServer wires it in).
        self.body_file, self.content = self.content, io.BytesIO()
        return super().process()

    # --- the response ------------------------------------------------------------

    def handle_reply(self, message):
        if message.get("type") == "http.response.start" and self.producer is None and not self.finished:
            if self.channel is not None:
                self.registerProducer(self, True)
        super().handle_reply(message)

    def finish(self):
        if self.producer is not None:
            self.unregisterProducer()
        self._close_body()
        super().finish()

    def connectionLost(self, reason):
        self._close_body()
        super().connectionLost(reason)

    def _close_body(self):
        self.writable.set()
        if self.body_file is not None:
            self.body_file.close()


class BoundedWebSocketProtocol(Paced, WebSocketProtocol):
    """Daphne's websocket protocol as the transport's producer: sends wait for the client."""

    def connectionMade(self):
        self.pace()
        self.transport.unregisterProducer()  # the HTTP channel the upgrade came through
        self.transport.registerProducer(self, True)
        super().connectionMade()

    def connectionLost(self, reason):
        self.writable.set()
        super().connectionLost(reason)


class BodyFeed:
    """The application's `receive`: the request body a chunk at a time from its file,
    then daphne's own queue (its empty closing body message, then a disconnect)."""

    def __init__(self, body_file, receive):
        self.body_file = body_file
        self.receive = receive

    async def __call__(self):
        if self.body_file is not None:
            try:
                chunk = self.body_file.read(BODY_CHUNK)
            except ValueError:  # closed: the request is over
                chunk = b""
            if chunk:
                return {"type": "http.request", "body": chunk, "more_body": True}
            self.body_file = None
        return await self.receive()


class BoundedHTTPFactory(HTTPFactory):
    def buildProtocol(self, addr):
        protocol = super().buildProtocol(addr)
        protocol.requestFactory = BoundedRequest
        return protocol


class WharfServer(Server):
    """Daphne's server with BoundedRequest, BodyFeed and BoundedWebSocketProtocol: same
    options, same behaviour otherwise."""

    def __init__(self, application, **kwargs):
        self._creating = None
        super().__init__(application=self._fed(application), **kwargs)

    @property
    def http_factory(self):
        return self._http_factory

    @http_factory.setter
    def http_factory(self, daphne_factory):
        """Server.run sets daphne's own factory here: ours is used instead."""
        self._http_factory = BoundedHTTPFactory(self)

    @property
    def ws_factory(self):
        return self._ws_factory

    @ws_factory.setter
    def ws_factory(self, factory):
        """Server.run sets daphne's websocket factory here: it makes our protocol. daphne
        then sets its options, among them its limit on a message and a frame (1 MiB by
        default; a browser's largest message is terminal input, a 64 KiB window): autobahn
        refuses more as soon as a frame header says so, before it gathers it in memory."""
        factory.protocol = BoundedWebSocketProtocol
        self._ws_factory = factory

    def create_application(self, protocol, scope):
        self._creating = protocol  # for _fed: the application is made in this call
        try:
            return super().create_application(protocol, scope)
        finally:
            self._creating = None

    def _fed(self, application):
        def instance(scope, receive, send):
            body_file = getattr(self._creating, "body_file", None)
            if body_file is not None:
                receive = BodyFeed(body_file, receive)
            return application(scope=scope, receive=receive, send=send)

        return instance

    async def handle_reply(self, protocol, message):
        await super().handle_reply(protocol, message)
        if message.get("type") in ("http.response.body", "websocket.send") and isinstance(protocol, Paced):
            await protocol.writable.wait()  # until the client has taken what was written


class WharfCommandLine(CommandLineInterface):
    server_class = WharfServer


# A websocket is accepted once its session is open (authorized, recorded, the container
# found); daphne's 5 s default drops sockets when many open at once on a busy machine.
CONNECT_TIMEOUT = ["--websocket_connect_timeout", "20"]


def main(argv=None):
    """daphne's command line (-b, -p, -u, -e, ...), serving the console."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not any(a.startswith("--websocket_connect_timeout") for a in args):
        args = CONNECT_TIMEOUT + args
    WharfCommandLine().run([*args, APPLICATION])


if __name__ == "__main__":
    main()
