"""The console's server (console/server.py) as a real process: what a client sends or
fails to read must not grow it. Memory is the server process's peak RSS (VmHWM, reset
through /proc/<pid>/clear_refs before each test), compared with the bytes involved."""

import os
import select
import socket
import struct
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import quote

import pytest
import requests
from django.test import Client

from tests.flood import FLOOD_MIB
from tests.harness import TEST_IMAGE

ROOT = Path(__file__).resolve().parent.parent
MiB = 1024 * 1024
MAX_BODY = 2 * MiB  # WHARF_MAX_BODY_BYTES of the server under test
LOGIN = "/accounts/login/"
CSRF = "c" * 32  # a CSRF cookie and header of our own choosing (Django accepts the pair)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def database_url():
    """The test database, for the server process to share with the tests."""
    from django.db import connection

    d = connection.settings_dict
    if d["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{d['NAME']}"
    return f"postgres://{quote(d['USER'])}:{quote(d['PASSWORD'])}@{d['HOST']}:{d['PORT']}/{d['NAME']}"


class ServerProcess:
    """`python -m console.server` on a free port, on the tests' data folder and database
    (or another module serving an application of its own with it)."""

    def __init__(self, module="console.server"):
        self.port = free_port()
        env = dict(
            os.environ, DJANGO_SETTINGS_MODULE="tests.settings", DATABASE_URL=database_url(),
            WHARF_MAX_BODY_BYTES=str(MAX_BODY), PYTHONPATH=str(ROOT),
        )  # fmt: skip
        self.process = subprocess.Popen(
            [sys.executable, "-m", module, *self.arguments(module)],
            cwd=ROOT, env=env,
        )  # fmt: skip
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the server did not start") from None
                time.sleep(0.1)

    def arguments(self, module):
        if module == "console.server":
            return ["-b", "127.0.0.1", "-p", str(self.port), "-v", "0"]
        return [str(self.port)]

    def status_kib(self, field):
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
        raise KeyError(field)

    def start_measuring(self):
        Path(f"/proc/{self.process.pid}/clear_refs").write_text("5")  # VmHWM := VmRSS
        self.rss_before = self.status_kib("VmRSS")

    def peak_growth(self):
        """MiB the server's peak RSS grew by since start_measuring."""
        return (self.status_kib("VmHWM") - self.rss_before) / 1024

    def stop(self):
        self.process.terminate()
        self.process.wait(10)


@pytest.fixture(scope="module")
def server(django_db_setup, django_db_blocker):
    process = ServerProcess()
    yield process
    process.stop()


def _answered(sock):
    """Has the server answered (or closed)? poll, not select: the test process may hold
    more than FD_SETSIZE descriptors."""
    poller = select.poll()
    poller.register(sock, select.POLLIN)
    return bool(poller.poll(0))


def send_body(port, head, size, chunked=False, piece=MiB):
    """Send `head`, then up to `size` bytes of body in pieces, stopping as soon as the
    server answers or closes. Returns (the answer's status line, body bytes sent)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=60)
    sock.sendall(head)
    sent, data = 0, b"a" * piece
    try:
        while sent < size and not _answered(sock):
            sock.sendall(b"%x\r\n%s\r\n" % (piece, data) if chunked else data)
            sent += piece
        if chunked and sent >= size:
            sock.sendall(b"0\r\n\r\n")
    except OSError:  # the server closed the connection: its answer is in our buffer
        pass
    answer = sock.recv(65536)
    sock.close()
    return answer.split(b"\r\n", 1)[0], sent


def post_head(path, length=None, cookie=""):
    size = b"Transfer-Encoding: chunked" if length is None else b"Content-Length: %d" % length
    return (
        b"POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\n%s\r\n"
        b"Content-Type: application/x-www-form-urlencoded\r\n%s\r\n"
        % (path.encode(), size, cookie.encode() and b"Cookie: " + cookie.encode() + b"\r\n")
    )


def test_an_oversize_body_is_refused_before_it_is_read(server):
    server.start_measuring()
    status, sent = send_body(server.port, post_head(LOGIN, 200 * MiB), 200 * MiB)
    assert status == b"HTTP/1.1 413 Content Too Large"
    assert sent < 20 * MiB  # refused on its headers: what was sent is what sockets hold
    assert server.peak_growth() < 20


def test_a_chunked_body_is_cut_off_at_the_limit(server):
    server.start_measuring()
    status, sent = send_body(server.port, post_head(LOGIN), 200 * MiB, chunked=True)
    assert status == b"HTTP/1.1 413 Content Too Large"
    assert sent < MAX_BODY + 20 * MiB
    assert server.peak_growth() < 20


def test_a_body_under_the_limit_still_reaches_the_page(server):
    status, _ = send_body(server.port, post_head(LOGIN, MAX_BODY - 100), MAX_BODY - 100, piece=MAX_BODY - 100)
    assert status == b"HTTP/1.1 403 Forbidden"  # Django's CSRF check read it: no cookie


@pytest.mark.django_db(transaction=True)
def test_a_large_upload_needs_a_logged_in_session(server):
    path = "/hosts/unix-1/containers/any/files/upload/"
    for cookie in ("", "sessionid=made-up"):
        status, sent = send_body(server.port, post_head(path, 100 * MiB, cookie), 100 * MiB)
        assert status == b"HTTP/1.1 413 Content Too Large"
        assert sent < 20 * MiB


def read_slowly(sock, until=None):
    """Read at about 40 MB/s to the end (or `until` bytes): the bytes read."""
    received, started = 0, time.monotonic()
    try:
        while (until is None or received < until) and (chunk := sock.recv(256 * 1024)):
            received += len(chunk)
            time.sleep(max(0, received / (40 * MiB) - (time.monotonic() - started)))
    except ConnectionResetError:  # daphne alone drops a websocket that does not close in time
        pass
    sock.close()
    return received


@pytest.fixture
def session(make_user):
    client = Client()
    client.force_login(make_user("uploader", role="Admin"))
    return client.cookies["sessionid"].value


@pytest.fixture
def make_container(docker_env, hosts):
    made = []

    def make(command):
        container = docker_env.client("unix-1").containers.create(
            TEST_IMAGE, ["sh", "-c", command], name=f"srv-{uuid.uuid4().hex[:10]}", network_disabled=True
        )
        made.append(container)
        container.start()
        return container

    yield make
    for container in made:
        container.remove(force=True)


@pytest.mark.django_db(transaction=True)
def test_a_large_upload_from_a_logged_in_session_streams_through(server, session, make_container):
    container = make_container("sleep 300")
    size = 100 * MiB
    server.start_measuring()
    response = requests.post(
        f"http://127.0.0.1:{server.port}/hosts/unix-1/containers/{container.name}/files/upload/",
        data={"path": "/tmp"}, files={"files": ("big.bin", b"\0" * size)},
        cookies={"sessionid": session, "csrftoken": CSRF}, headers={"X-CSRFToken": CSRF},
        allow_redirects=False, timeout=120,
    )  # fmt: skip
    assert response.status_code == 302, response.text[:500]
    assert server.peak_growth() < size / MiB / 3
    _, stat = container.get_archive("/tmp/big.bin")
    assert stat["size"] == size


@pytest.mark.heavy(5)
@pytest.mark.django_db(transaction=True)
def test_a_slow_reader_does_not_make_the_server_hold_the_download(server, session, make_container):
    container = make_container(f"dd if=/dev/zero of=/big bs=1M count={FLOOD_MIB} 2>/dev/null")
    assert container.wait(timeout=120)["StatusCode"] == 0
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=60)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
    sock.sendall(
        b"GET /hosts/unix-1/containers/%s/export/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Cookie: sessionid=%s\r\nConnection: close\r\n\r\n" % (container.name.encode(), session.encode())
    )
    server.start_measuring()
    assert read_slowly(sock) > FLOOD_MIB * MiB
    assert server.peak_growth() < 64


@pytest.mark.heavy(5)
def test_a_slow_websocket_reader_does_not_make_the_server_hold_the_messages():
    server = ServerProcess("tests.flood")
    try:
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=60)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
        server.start_measuring()
        sock.sendall(
            b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        received = read_slowly(sock, FLOOD_MIB * MiB)
        assert server.peak_growth() < 64
        assert received >= FLOOD_MIB * MiB
    finally:
        server.stop()


def _websocket(port, session, path="/ws/hosts/unix-1/events/"):
    """A websocket of a logged-in session, opened by hand: the socket, after the 101."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    sock.sendall(
        b"GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nOrigin: http://127.0.0.1\r\nCookie: sessionid=%s\r\n"
        b"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        b"Sec-WebSocket-Version: 13\r\n\r\n" % (path.encode(), session.encode())
    )
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(1)
    assert head.startswith(b"HTTP/1.1 101"), head
    return sock


def _frame_head(opcode, size, final=True):
    """A client frame's header with a zero mask (the payload then goes as it is)."""
    return bytes([opcode | (0x80 if final else 0), 0x80 | 127]) + struct.pack(">Q", size) + bytes(4)


def _dropped(sock, seconds=10):
    """Read until the server closes the connection: did it, within `seconds`?"""
    sock.settimeout(seconds)
    try:
        while sock.recv(65536):
            pass
    except ConnectionResetError:
        pass
    except TimeoutError:
        return False
    return True


@pytest.mark.django_db(transaction=True)
def test_a_websocket_message_over_1_mib_is_refused_by_its_header(server, session, hosts):
    """A frame that says it carries more than 1 MiB ends the connection before a byte of
    it is sent; so does a message of smaller frames once they add up past 1 MiB."""
    sock = _websocket(server.port, session)
    sock.sendall(_frame_head(0x2, 2 * MiB))
    assert _dropped(sock)

    sock = _websocket(server.port, session)
    server.start_measuring()
    try:
        for opcode in (0x2, 0x0, 0x0):  # a binary message in three 512 KiB fragments
            sock.sendall(_frame_head(opcode, MiB // 2, final=False) + bytes(MiB // 2))
    except (BrokenPipeError, ConnectionResetError):
        pass
    assert _dropped(sock)
    assert server.peak_growth() < 8

    sock = _websocket(server.port, session)  # under the limit, the socket stays open
    sock.sendall(_frame_head(0x2, MiB - 1024) + bytes(MiB - 1024))
    assert not _dropped(sock, seconds=1)
    sock.close()
