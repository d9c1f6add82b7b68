"""Terminals over the websocket (console/terminals): docker exec -it and docker attach
against the real test daemons, through the whole ASGI application (session, Origin)."""

import asyncio
import hashlib
import json
import threading
import time
import uuid

import pytest
from channels.testing import WebsocketCommunicator

from console import gateway
from console.asgi import application
from console.audit.models import AuditEntry
from console.gateway import TerminalSocket
from console.streams import consumers as codes
from console.terminals import consumers
from console.terminals.recording import path_of
from tests.conftest import client_of, open_fds, run_async, settle
from tests.harness import TEST_IMAGE

ORIGIN = b"http://127.0.0.1"
LIVE = pytest.mark.django_db(transaction=True)  # the socket's threads have their own DB connections
BOTH = pytest.mark.parametrize("host_name", ["unix-1", "tls-1"])  # a unix socket, TCP with mutual TLS


@pytest.fixture
def container_on(docker_of):
    """A container of the test image (removed afterwards): tty/stdin as `docker run -it`."""

    def make(host_name="unix-1", command=("sh",), *, tty=True, stdin=True, labels=None, start=True, **extra):
        client = docker_of(host_name)
        container = client.containers.create(
            TEST_IMAGE, list(command), tty=tty, stdin_open=stdin, network_disabled=True,
            labels=labels or {}, name=f"term-{uuid.uuid4().hex[:10]}", **extra,
        )  # fmt: skip
        docker_of.made.append((host_name, container.id))
        if start:
            container.start()
        return container

    return make


def cookie_for(user):
    return f"sessionid={client_of(user).cookies['sessionid'].value}".encode()


def path(kind, ref, host_name="unix-1", **params):
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return f"/ws/hosts/{host_name}/containers/{ref}/{kind}/" + (f"?{query}" if query else "")


def communicator(url, cookie=None, origin=ORIGIN):
    headers = [(b"host", b"127.0.0.1")] + ([(b"origin", origin)] if origin else [])
    if cookie:
        headers.append((b"cookie", cookie))
    return WebsocketCommunicator(application, url, headers=headers)


class Terminal:
    """One open terminal: the bytes it showed, its messages, a way to type."""

    def __init__(self, socket):
        self.socket, self.output, self.messages, self.end, self.acked = socket, b"", [], None, 0
        self.frames = []  # output as its frames came

    @classmethod
    async def open(cls, url, cookie):
        socket = communicator(url, cookie)
        connected, code = await socket.connect(timeout=30)
        assert connected, code
        terminal = cls(socket)
        opened = await terminal.next()
        assert opened and opened["t"] == "open", opened
        return terminal

    async def next(self, timeout=30):
        """The next frame: output bytes are gathered, a text message is returned."""
        frame = await self.socket.receive_output(timeout=timeout)
        if frame["type"] == "websocket.close":
            raise EOFError(frame.get("code"))
        if frame.get("bytes") is not None:
            self.output += frame["bytes"]
            self.frames.append(frame["bytes"])
            return None
        message = json.loads(frame["text"])
        self.messages.append(message)
        if message["t"] == "ack":
            self.acked += message["n"]
        if message["t"] == "end":
            self.end = message
        return message

    async def until(self, done, timeout=30):
        """Read until `done(self)`, or fail after `timeout` seconds without it."""
        deadline = time.monotonic() + timeout
        while not done(self):
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"not seen: output {self.output[-300:]!r}, messages {self.messages[-5:]}")
            try:
                await self.next(timeout=left)
            except TimeoutError:
                raise AssertionError(f"not seen: output {self.output[-300:]!r}, messages {self.messages[-5:]}") from None
            except EOFError:
                if done(self):
                    return
                raise

    async def type(self, data, window=consumers.INPUT_WINDOW, block=4096):
        """Send input as the page does: in blocks, never more than `window` unacknowledged."""
        sent = self.acked
        for start in range(0, len(data), block):
            part = data[start : start + block]
            while sent + len(part) - self.acked > window:
                await self.next()
            await self.socket.send_to(bytes_data=part)
            sent += len(part)
        await self.until(lambda t: t.acked >= sent)

    async def resize(self, cols, rows):
        await self.socket.send_to(text_data=json.dumps({"t": "resize", "cols": cols, "rows": rows}))

    async def closed(self):
        """The close code, once the server closed the socket (then the browser's side goes)."""
        frame = await self.socket.receive_output(timeout=30)
        while frame["type"] != "websocket.close":
            frame = await self.socket.receive_output(timeout=30)
        await self.socket.disconnect()
        return frame["code"]

    async def ended(self):
        """Read until the end message and the close: the end message."""
        await self.until(lambda t: t.end is not None)
        assert await self.closed() == codes.ENDED
        return self.end


def entries(action):
    return list(AuditEntry.objects.filter(action=action).order_by("id"))


def wait_for_entry(action):
    """The last entry of `action` once the socket's thread has completed it."""
    for _ in range(600):
        entry = AuditEntry.objects.filter(action=action).order_by("-id").first()
        if entry is not None and entry.outcome != "started":
            return entry
        time.sleep(0.05)
    raise AssertionError(f"no completed {action} entry")


# --- exec --------------------------------------------------------------------------------


@LIVE
def test_exec_runs_a_command_and_shows_its_output_and_exit_code(hosts, admin_user, container_on):
    container = container_on(command=["sleep", "300"], tty=False, stdin=False)
    cookie = cookie_for(admin_user)

    async def run():
        url = path("exec", container.id, cmd="sh%20-c%20'echo%20out;%20echo%20err%201>%262;%20exit%203'", env="A=1")
        terminal = await Terminal.open(url, cookie)
        await terminal.ended()
        return terminal

    terminal = run_async(run())
    assert terminal.output.replace(b"\r", b"") == b"out\nerr\n"
    assert terminal.end["exit_code"] == 3 and "exit code 3" in terminal.end["notice"]
    entry = wait_for_entry("container.exec")
    assert entry.outcome == "succeeded" and "exit code 3" in entry.error
    assert entry.params["env"] == ["A"] and "1" not in json.dumps(entry.params["env"])


@LIVE
@BOTH
def test_exec_shell_echoes_what_is_typed_and_follows_a_resize(hosts, admin_user, container_on, host_name):
    container = container_on(host_name, command=["sleep", "300"], tty=False, stdin=False)
    cookie = cookie_for(admin_user)

    async def run():
        url = path("exec", container.id, host_name, cols=100, rows=30, user="nobody", workdir="/tmp")
        terminal = await Terminal.open(url, cookie)
        await terminal.type(b"stty size; id -un; pwd\r")
        await terminal.until(lambda t: b"30 100" in t.output and b"/tmp\r\n" in t.output)
        await terminal.resize(132, 43)
        await terminal.type(b"stty size\r")
        await terminal.until(lambda t: b"43 132" in t.output)
        await terminal.type("echo 'héllo wörld ✓'\r".encode())
        await terminal.until(lambda t: "héllo wörld ✓\r\n".encode() in t.output)
        await terminal.type(b"exit 7\r")
        await terminal.ended()
        return terminal

    terminal = run_async(run())
    assert b"nobody" in terminal.output
    assert terminal.end["exit_code"] == 7


@LIVE
def test_bytes_pass_unchanged_both_ways_and_utf8_cut_between_frames_is_kept(hosts, admin_user, container_on):
    container = container_on(command=["sleep", "300"], tty=False, stdin=False)
    cookie = cookie_for(admin_user)
    every_byte = bytes(range(256)) * 4

    async def run():
        echo = await Terminal.open(path("exec", container.id, cmd="cat", tty=0), cookie)  # docker exec -i: no TTY
        await echo.type(every_byte)
        await echo.until(lambda t: len(t.output) >= len(every_byte))
        await echo.socket.disconnect()
        # a check mark whose bytes leave the container 0.3 s apart: two frames
        cut = await Terminal.open(path("exec", container.id, cmd="sh%20-c%20%22printf%20'%5C342%5C234';%20sleep%200.3;%20printf%20'%5C223'%22"), cookie)
        await cut.ended()
        return echo.output, cut.frames

    echoed, frames = run_async(run())
    assert echoed == every_byte
    assert frames == [b"\xe2\x9c", b"\x93"] and b"".join(frames).decode() == "✓"


@LIVE
@BOTH
def test_a_100_kb_paste_arrives_intact_and_in_order(hosts, admin_user, container_on, host_name):
    container = container_on(host_name, command=["sleep", "300"], tty=False, stdin=False)
    cookie = cookie_for(admin_user)
    # printable lines, as a paste is; the shell reads them into a file with stty -echo
    text = "".join(f"{i:06d} {'abcdefghijklmnopqrstuvwxyz' * 3}\n" for i in range(1200)).encode()[: 100 * 1024]
    text = text[: text.rindex(b"\n") + 1]

    async def run():
        terminal = await Terminal.open(path("exec", container.id, host_name, cmd="sh%20-c%20'stty%20raw%20-echo;%20head%20-c%20" + str(len(text)) + "%20>/tmp/paste;%20sha256sum%20/tmp/paste'"), cookie)
        await terminal.type(text)
        await terminal.ended()
        return terminal

    terminal = run_async(run())
    assert hashlib.sha256(text).hexdigest().encode() in terminal.output
    assert terminal.end["exit_code"] == 0


@LIVE
def test_input_faster_than_the_window_is_cut_off(hosts, admin_user, container_on):
    container = container_on(command=["sleep", "300"], tty=False, stdin=False)
    cookie = cookie_for(admin_user)

    async def run():
        terminal = await Terminal.open(path("exec", container.id, cmd="sleep%20300"), cookie)
        await terminal.socket.send_to(bytes_data=b"x" * (consumers.INPUT_WINDOW + 1))
        return await terminal.closed()

    assert run_async(run()) == codes.BAD_INPUT
    assert wait_for_entry("container.exec").outcome == "succeeded"


# --- attach ------------------------------------------------------------------------------


@LIVE
def test_attach_echo_on_a_tty_and_two_viewers_see_the_same_output(hosts, admin_user, make_user, container_on):
    container = container_on(command=["cat"])
    cookie = cookie_for(admin_user)
    other = cookie_for(make_user("second", role="Developer"))

    async def run():
        first = await Terminal.open(path("attach", container.id), cookie)
        second = await Terminal.open(path("attach", container.id, input=0), other)
        await first.until(lambda t: any(m["t"] == "viewers" and len(m["names"]) == 2 for m in t.messages))
        await first.type("ping ✓\r".encode())
        await first.until(lambda t: "ping ✓".encode() in t.output)
        await second.until(lambda t: "ping ✓".encode() in t.output)
        names = [m for m in second.messages if m["t"] == "viewers"][-1]["names"]
        await second.socket.disconnect()
        await first.until(lambda t: [m for m in t.messages if m["t"] == "viewers"][-1]["names"] == ["admin"])
        await first.socket.disconnect()
        return names

    names = run_async(run())
    assert sorted(names) == ["admin", "second"]
    container.reload()
    assert container.status == "running", "leaving the page must not stop the container"


@LIVE
def test_attach_to_a_non_tty_container_shows_stdout_and_stderr(hosts, admin_user, container_on):
    script = "while read line; do echo \"out $line\"; echo \"err $line\" >&2; done"
    container = container_on(command=["sh", "-c", script], tty=False)
    cookie = cookie_for(admin_user)

    async def run():
        terminal = await Terminal.open(path("attach", container.id), cookie)
        await terminal.type(b"one\n")
        await terminal.until(lambda t: b"out one\n" in t.output and b"err one\n" in t.output)
        await terminal.socket.disconnect()
        return terminal

    run_async(run())


@LIVE
def test_a_container_stopped_mid_session_ends_the_terminal_with_its_exit_code(hosts, admin_user, container_on):
    container = container_on(command=["cat"], tty=True)  # PID 1 ignores SIGTERM: stop kills it
    cookie = cookie_for(admin_user)

    async def run():
        terminal = await Terminal.open(path("attach", container.id), cookie)
        await terminal.type(b"alive\r")
        await terminal.until(lambda t: b"alive" in t.output)
        await asyncio.get_running_loop().run_in_executor(None, lambda: container.stop(timeout=1))
        await terminal.ended()
        return terminal

    terminal = run_async(run())
    assert terminal.end["exit_code"] == 137 and "stopped (exit code 137)" in terminal.end["notice"]
    entry = wait_for_entry("container.attach_input")
    assert entry.outcome == "succeeded" and "exit code 137" in entry.error


@LIVE
def test_detach_keys_detach_without_stopping(hosts, admin_user, container_on):
    container = container_on(command=["cat"])
    cookie = cookie_for(admin_user)

    async def run():
        terminal = await Terminal.open(path("attach", container.id, detach_keys="ctrl-x"), cookie)
        assert terminal.messages[0]["detach_keys"] == "ctrl-x"
        await terminal.socket.send_to(bytes_data=b"\x18")  # no ack to wait for: Docker detaches at once
        await terminal.ended()
        return terminal

    terminal = run_async(run())
    assert "keeps running" in terminal.end["notice"]
    container.reload()
    assert container.status == "running"


@LIVE
def test_sig_proxy_sends_sigint_to_a_non_tty_process(hosts, admin_user, container_on):
    container = container_on(command=["sh", "-c", "trap 'echo got-int; exit 9' INT; while true; do sleep 0.1; done"], tty=False)
    cookie = cookie_for(admin_user)

    async def run():
        terminal = await Terminal.open(path("attach", container.id, sig_proxy=1), cookie)
        await terminal.socket.send_to(bytes_data=b"\x03")  # the process ends before the acknowledgement
        await terminal.ended()
        return terminal

    terminal = run_async(run())
    assert b"got-int" in terminal.output and terminal.end["exit_code"] == 9
    assert "1 SIGINT sent (--sig-proxy)" in wait_for_entry("container.attach_input").error


@LIVE
def test_a_session_is_recorded(hosts, admin_user, container_on, settings, tmp_path):
    settings.RECORDINGS_DIR = tmp_path
    container = container_on(command=["sleep", "300"], tty=False, stdin=False)
    cookie = cookie_for(admin_user)

    async def run():
        terminal = await Terminal.open(path("exec", container.id, cmd="echo%20recorded", cols=90, rows=20), cookie)
        await terminal.ended()

    run_async(run())
    wait_for_entry("container.exec")
    casts = list(tmp_path.glob("*.cast"))
    assert len(casts) == 1
    header, *events = casts[0].read_text().splitlines()
    assert json.loads(header)["width"] == 90 and json.loads(header)["height"] == 20
    assert any("recorded" in json.loads(e)[2] for e in events if json.loads(e)[1] == "o")
    assert path_of(casts[0].name) == casts[0]


# --- refusals ----------------------------------------------------------------------------


def refused(url, cookie=None, origin=ORIGIN):
    async def run():
        socket = communicator(url, cookie, origin)
        connected, code = await socket.connect(timeout=30)
        await socket.disconnect()
        return connected, code

    return run_async(run())


@LIVE
def test_refusals_close_before_accept_and_are_recorded(hosts, make_user, container_on):
    ours = container_on(command=["cat"], labels={"team": "a"})
    theirs = container_on(command=["cat"], labels={"team": "b"})
    viewer = make_user("viewer", role="Viewer")
    team_a = make_user("team-a", role="Developer", host=hosts["unix-1"], label="team=a")
    admin = make_user("root", role="Admin")
    cases = [  # (who, origin, kind, ref, params, close code, recorded)
        (None, ORIGIN, "exec", ours.id, {}, codes.LOGGED_OUT, ("container.exec", "denied")),
        (None, ORIGIN, "attach", ours.id, {}, codes.LOGGED_OUT, ("container.attach_input", "denied")),
        (admin, b"http://evil.example", "exec", ours.id, {}, None, ("container.exec", "denied")),
        (admin, b"http://evil.example", "attach", ours.id, {}, None, ("container.attach", "denied")),
        (viewer, ORIGIN, "exec", ours.id, {}, codes.DENIED, ("container.exec", "denied")),
        (viewer, ORIGIN, "attach", ours.id, {"input": 0}, codes.DENIED, ("container.attach", "denied")),
        (team_a, ORIGIN, "exec", theirs.id, {}, codes.ABSENT, ("container.exec", "denied")),
        (team_a, ORIGIN, "attach", theirs.id, {}, codes.ABSENT, ("container.attach_input", "denied")),
    ]
    for user, origin, kind, ref, params, code, recorded in cases:
        cookie = cookie_for(user) if user else None
        before = AuditEntry.objects.count()
        connected, closed_with = refused(path(kind, ref, **params), cookie, origin)
        assert not connected, (user, kind)
        if code is not None:
            assert closed_with == code, (user, kind, closed_with)
        written = list(AuditEntry.objects.order_by("id")[before:])
        assert [(e.action, e.outcome) for e in written] == [recorded], (user, kind, written)


@LIVE
def test_a_stopped_container_has_no_terminal_and_says_so(hosts, admin_user, container_on):
    container = container_on(command=["true"])
    container.wait(timeout=30)
    cookie = cookie_for(admin_user)
    for kind, code in (("exec", "container.exec"), ("attach", "container.attach_input")):
        connected, closed_with = refused(path(kind, container.id), cookie)
        assert not connected and closed_with == codes.HOST_FAILED
        entry = AuditEntry.objects.filter(action=code).get()
        assert entry.outcome == "failed" and f"{container.name} is not running" in entry.error, entry.error


@LIVE
def test_input_on_a_read_only_attach_is_refused_and_recorded(hosts, make_user, container_on):
    container = container_on(command=["cat"])
    watcher = cookie_for(make_user("watcher", role="Developer"))

    async def run():
        terminal = await Terminal.open(path("attach", container.id, input=0), watcher)
        assert terminal.messages[0]["input"] is False
        await terminal.socket.send_to(bytes_data=b"rm -rf /\r")
        return await terminal.closed()

    assert run_async(run()) == codes.DENIED
    refusal = AuditEntry.objects.filter(action="container.attach_input").get()
    assert refusal.outcome == "denied" and "read-only" in refusal.error
    assert wait_for_entry("container.attach").outcome == "succeeded"


# --- leaks -------------------------------------------------------------------------------


@pytest.mark.heavy(7)
@LIVE
def test_sessions_opened_and_dropped_leave_no_thread_socket_or_process_behind(hosts, admin_user, container_on):
    container = container_on(command=["cat"])
    cookie = cookie_for(admin_user)

    async def open_and_drop(count):
        for url in (path("exec", container.id, cmd="cat", tty=0), path("exec", container.id), path("attach", container.id)):
            terminals = [await Terminal.open(url, cookie) for _ in range(count)]
            for terminal in terminals:
                await terminal.socket.disconnect()

    run_async(open_and_drop(2))
    settle("ws-container.exec", "ws-container.attach")
    processes = len(container.top()["Processes"])
    gateway.forget(hosts["unix-1"])  # the clients' pools closed: what stays open is a leak
    threads, fds = threading.active_count(), open_fds()
    for _ in range(3):  # a session's leak shows 108 times over, a round's 3 times
        run_async(open_and_drop(12))
    settle("ws-container.exec", "ws-container.attach")
    gateway.forget(hosts["unix-1"])
    assert AuditEntry.objects.filter(action__in=["container.exec", "container.attach_input"], outcome="succeeded").count() == 114
    assert threading.active_count() <= threads
    assert open_fds() <= fds, "sockets or files left open"
    for _ in range(100):  # `exec -i cat` sees its stdin close; a TTY shell is hung up
        if len(container.top()["Processes"]) <= processes:
            break
        time.sleep(0.1)
    assert len(container.top()["Processes"]) <= processes, container.top()["Processes"]


def test_a_non_tty_stream_is_taken_apart_wherever_it_is_cut():
    frames = b"".join(bytes([s, 0, 0, 0]) + len(p).to_bytes(4, "big") + p for s, p in ((1, b"out\n"), (2, b"err \xe2\x9c"), (1, b"\x93\n")))
    for cut in range(1, len(frames)):
        socket = TerminalSocket.__new__(TerminalSocket)
        socket._frame_left, socket._header = 0, b""
        assert socket._unframe(frames[:cut]) + socket._unframe(frames[cut:]) == "out\nerr ✓\n".encode()


# --- docker run -i -t ----------------------------------------------------------------------


@LIVE
def test_an_interactive_run_shows_its_first_prompt_and_rm_removes_it(hosts, admin_user, docker_of):
    client = client_of(admin_user)
    name = f"term-run-{uuid.uuid4().hex[:8]}"
    docker_of.made.append(("unix-1", name))
    form = {"image": TEST_IMAGE, "name": name, "command": "sh -c 'echo first-byte; exec sh'", "mode": "interactive",
            "network": "none", "auto_remove": "on", "restart": ""}  # fmt: skip
    response = client.post("/hosts/unix-1/run/", form)
    assert response.status_code == 302, response.content.decode()[:2000]
    page = client.get(response["Location"])
    assert page.status_code == 200 and 'data-autostart="attach"' in page.content.decode()
    container_id = response["Location"].split("/")[4]
    cookie = cookie_for(admin_user)

    async def run():
        terminal = await Terminal.open(path("attach", container_id, start=1), cookie)
        await terminal.until(lambda t: b"first-byte" in t.output and b"# " in t.output)
        await terminal.type(b"exit 4\r")
        await terminal.ended()
        return terminal

    terminal = run_async(run())
    assert terminal.output.lstrip().startswith(b"first-byte"), terminal.output[:200]
    assert terminal.end["exit_code"] == 4 and "removed" in terminal.end["notice"]
    assert not docker_of("unix-1").containers.list(all=True, filters={"name": name})
    assert AuditEntry.objects.filter(action="container.start", target_id=container_id, outcome="succeeded").exists()


# --- the page --------------------------------------------------------------------------------


def test_the_terminal_page_offers_what_the_role_allows(hosts, make_user, container_on):
    container = container_on(command=["cat"])
    url = f"/hosts/unix-1/containers/{container.id[:12]}/terminal/"
    developer = client_of(make_user("dev", role="Developer")).get(url)
    html = developer.content.decode()
    assert developer.status_code == 200
    assert 'id="exec-form"' in html and 'id="attach-form"' in html and "Detach keys" in html
    assert "style-src 'self';" in developer["Content-Security-Policy"]  # xterm-csp.js: no inline styles
    assert "script-src 'self';" in developer["Content-Security-Policy"]
    detail = client_of(make_user("dev2", role="Developer")).get(f"/hosts/unix-1/containers/{container.id[:12]}/")
    assert ">Terminal</a>" in detail.content.decode()
    assert "unsafe-inline" not in detail["Content-Security-Policy"]
    viewer = client_of(make_user("viewer", role="Viewer"))
    assert viewer.get(url).status_code == 403
    assert ">Terminal</a>" not in viewer.get(f"/hosts/unix-1/containers/{container.id[:12]}/").content.decode()
    assert AuditEntry.objects.filter(action="container.exec", outcome="denied", actor_name="viewer").exists()
