"""Container logs over the websocket (console/streams), against the real daemons and
the docker CLI pointed at the same test daemon."""

import asyncio
import json
import os
import shutil
import struct
import subprocess
import threading
import time
import uuid

import pytest
from channels.testing import WebsocketCommunicator

from console.access.models import Grant, Role
from console.asgi import application
from console.audit.models import AuditEntry
from console.gateway import LogStream
from console.streams import consumers
from console.streams.lines import LineReader, parse_time
from tests.conftest import client_of, open_fds, run_async, settle
from tests.harness import TEST_IMAGE

DOCKER_CLI = shutil.which("docker", path="/usr/local/bin:/usr/bin")
ORIGIN = b"http://127.0.0.1"
LIVE = pytest.mark.django_db(transaction=True)  # the socket's thread has its own DB connection


# --- lines from Docker's bytes ------------------------------------------------------------


def frame(stream, payload):
    return struct.pack(">BxxxL", stream, len(payload)) + payload


def test_frames_cut_anywhere_give_whole_lines_with_stderr_marked():
    stamp = b"2024-05-01T10:00:00.123456789Z "
    data = (
        frame(1, stamp + "héllo wörld ✓\n".encode()) + frame(2, stamp + b"oops\n")
        + frame(1, stamp + b"split ") + frame(1, "across frames ü\n".encode())
    )  # fmt: skip
    reader = LineReader(tty=False)
    lines = []
    for i in range(len(data)):  # one byte at a time: frames, lines and UTF-8 all cut
        lines += reader.feed(data[i : i + 1])
    lines += reader.finish()
    ts = "2024-05-01T10:00:00.123456789Z"
    assert lines == [
        (ts, False, "héllo wörld ✓"), (ts, True, "oops"), (ts, False, "split across frames ü"),
    ]  # fmt: skip


def test_a_tty_log_a_byte_at_a_time_gives_whole_lines():
    data = "2024-05-01T10:00:00.000000001Z ünï\r\n2024-05-01T10:00:01.000000001Z no end".encode()
    reader = LineReader(tty=True)
    lines = [line for i in range(len(data)) for line in reader.feed(data[i : i + 1])] + reader.finish()
    assert lines == [
        ("2024-05-01T10:00:00.000000001Z", False, "ünï"),
        ("2024-05-01T10:00:01.000000001Z", False, "no end"),
    ]


def test_chunked_encoding_cut_anywhere_gives_the_payload_back():
    payloads = [b"a" * 70, b"\r\n", b"x", bytes(range(256)) * 3]
    body = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in payloads) + b"0\r\n\r\n"
    for step in (1, 2, 3, 7, 64, len(body)):
        stream = object.__new__(LogStream)
        stream._rest, stream._left, stream._ended = b"", 0, False
        out = b"".join(stream._dechunk(body[i : i + step]) for i in range(0, len(body), step))
        assert out == b"".join(payloads) and stream._ended, step


def test_times_as_people_type_them():
    assert parse_time("2024-05-01T10:00:00") == "1714557600.000000000"
    assert parse_time("2024-05-01T10:00:00.123456789Z") == "1714557600.123456789"
    assert parse_time("1714557600.5") == "1714557600.5"
    assert parse_time("") == ""
    assert float(parse_time("10m")) == pytest.approx(time.time() - 600, abs=5)
    with pytest.raises(ValueError, match="Not a time"):
        parse_time("yesterday")


# --- a slow page: bounded buffer, skipped lines counted ---------------------------------------


def test_a_page_that_does_not_acknowledge_gets_a_bounded_buffer_and_a_skipped_mark(monkeypatch):
    monkeypatch.setattr(consumers, "MAX_PENDING_LINES", 50)
    monkeypatch.setattr(consumers, "BATCH_LINES", 10)
    lines = [(f"2024-05-01T10:00:{i // 100:02d}.{i:09d}Z", False, f"line {i}") for i in range(1000)]

    async def scenario():
        consumer = consumers.LogConsumer()
        consumer.loop = asyncio.get_running_loop()
        consumer.tasks = []
        sent = []
        consumer.send = lambda text_data: _append(sent, json.loads(text_data))
        consumer.close = lambda code, reason: _append(sent, {"closed": code})
        consumer.setup()
        consumer.follow, consumer.held = True, 0
        await consumer.started()
        for i in range(0, 1000, 20):
            consumer.deliver((lines[i : i + 20], 20 * 40))
            await asyncio.sleep(0)
        await asyncio.sleep(0.2)
        unacknowledged = list(sent)
        kept = len(consumer.pending)
        consumer.deliver(consumers.End("done"))
        for _ in range(1000):  # acknowledging, as a page that caught up does
            if any("closed" in m for m in sent):
                break
            await consumer.receive(json.dumps({"ack": 1}))
            await asyncio.sleep(0.01)
        for task in consumer.tasks:
            task.cancel()
        return unacknowledged, kept, sent

    unacknowledged, kept, sent = run_async(scenario())
    assert [m["t"] for m in unacknowledged] == ["lines"] * consumers.WINDOW  # no more before acks
    assert kept <= 50
    received = [tuple(line) for m in sent if m.get("t") == "lines" for line in m["lines"]]
    skipped = [m for m in sent if m.get("t") == "skipped"]
    assert skipped and len(received) + sum(m["count"] for m in skipped) == 1000
    # the mark says exactly which lines are missing: none is lost without a word
    order = [m for m in sent if m.get("t") in ("lines", "skipped")]
    position = 0
    for message in order:
        if message["t"] == "lines":
            assert [tuple(x) for x in message["lines"]] == lines[position : position + len(message["lines"])]
            position += len(message["lines"])
        else:
            assert message["since"] == lines[position][0]
            position += message["count"]
            assert message["until"] == lines[position - 1][0]
    assert position == 1000
    assert sent[-2]["t"] == "end" and sent[-1] == {"closed": consumers.ENDED}


def test_a_log_read_to_its_end_waits_for_the_page_instead_of_skipping(monkeypatch):
    monkeypatch.setattr(consumers, "MAX_PENDING_LINES", 50)
    consumer = consumers.LogConsumer()
    consumer.setup()
    consumer.follow = False
    lines = [(f"2024-05-01T10:00:00.{i:09d}Z", False, f"line {i}") for i in range(100)]
    taken = [consumer.deliver((lines[i : i + 20], 800)) for i in range(0, 100, 20)]
    # past the bound the slot stays taken: the reading thread waits (at most a few slots)
    assert taken == [True, True, False, False, False]
    assert consumer.skipped is None and consumer.pending == lines


async def _append(sent, message):
    sent.append(message)


# --- the websocket, end to end ---------------------------------------------------------------


@pytest.fixture
def container_on(docker_of):
    """Run a shell script in a container (removed afterwards, see conftest's docker_of)."""

    def make(host_name, script, labels=None, tty=False, wait=False):
        container = docker_of(host_name).containers.run(
            TEST_IMAGE, ["sh", "-c", script], detach=True, tty=tty, network_disabled=True,
            labels=labels or {}, name=f"logs-{uuid.uuid4().hex[:10]}",
        )  # fmt: skip
        docker_of.made.append((host_name, container.id))
        if wait:
            container.wait(timeout=60)
        return container

    return make


def cookie_for(user):
    return f"sessionid={client_of(user).cookies['sessionid'].value}".encode()


def socket_path(host_name, ref, **params):
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return f"/ws/hosts/{host_name}/containers/{ref}/logs/" + (f"?{query}" if query else "")


def communicator(path, cookie=None, origin=ORIGIN):
    headers = [(b"host", b"127.0.0.1")] + ([(b"origin", origin)] if origin else [])
    if cookie:
        headers.append((b"cookie", cookie))
    return WebsocketCommunicator(application, path, headers=headers)


async def read_until_end(socket, lines=None, stop=None):
    """Lines (acknowledging each batch) until the end message or `stop(lines)`."""
    lines = [] if lines is None else lines
    while True:
        message = json.loads(await socket.receive_from(timeout=60))
        if message["t"] == "lines":
            lines.extend(tuple(line) for line in message["lines"])
            await socket.send_to(text_data=json.dumps({"ack": message["n"]}))
            if stop and stop(lines):
                return lines, None
        elif message["t"] == "end":
            return lines, message


def read_log(cookie, host_name, ref, **params):
    async def run():
        socket = communicator(socket_path(host_name, ref, **params), cookie)
        connected, code = await socket.connect(timeout=60)
        assert connected, code
        lines, end = await read_until_end(socket)
        output = await socket.receive_output(timeout=10)
        await socket.disconnect()
        return lines, end, output

    return run_async(run())


def cli(docker_env, host_name, *args):
    """The docker CLI against the test daemon (never the default socket): (stdout, stderr)."""
    spec = next(d for d in docker_env.daemons if d.name == host_name)
    env = {"PATH": os.environ["PATH"], "HOME": "/nonexistent", "DOCKER_CONFIG": "/nonexistent"}
    done = subprocess.run([DOCKER_CLI, "-H", spec.url, *args], capture_output=True, env=env, timeout=60, check=True)
    return done.stdout.decode().splitlines(), done.stderr.decode().splitlines()


def wait_for_entry(**filters):
    """The audit entry once the socket's thread has completed it (the thread ends after
    the socket is closed: waiting for it is not a timing assumption)."""
    for _ in range(600):
        entry = AuditEntry.objects.filter(**filters).order_by("-id").first()
        if entry is not None and entry.outcome != "started":
            return entry
        time.sleep(0.05)
    raise AssertionError(f"no completed entry for {filters}")


def refused(path, cookie=None, origin=ORIGIN):
    async def run():
        socket = communicator(path, cookie, origin)
        connected, code = await socket.connect(timeout=60)
        await socket.disconnect()
        return connected, code

    return run_async(run())


@LIVE
def test_refusals_close_before_accept_and_are_recorded(hosts, make_user, container_on):
    ours = container_on("unix-1", "echo secret line; sleep 300", labels={"team": "a"})
    theirs = container_on("unix-1", "echo other team; sleep 300", labels={"team": "b"})
    viewer_elsewhere = make_user("elsewhere", role="Viewer", host=hosts["unix-2"])
    team_a = make_user("team-a", role="Developer", host=hosts["unix-1"], label="team=a")
    no_logs = make_user("no-logs")
    Grant.objects.create(user=no_logs, role=Role.objects.create(name="Lister", permissions=["container.view", "host.view"]))
    admin = make_user("root", role="Admin")

    cases = [  # (who, origin, container ref, close code, recorded)
        (None, ORIGIN, ours.id, consumers.LOGGED_OUT, ("container.logs", "denied")),
        # Channels' denier closes without a code of ours
        (admin, b"http://evil.example", ours.id, None, ("container.logs", "denied")),
        (no_logs, ORIGIN, ours.id, consumers.DENIED, ("container.logs", "denied")),
        (viewer_elsewhere, ORIGIN, ours.id, consumers.ABSENT, ("host.view", "denied")),
        (team_a, ORIGIN, theirs.id, consumers.ABSENT, ("container.logs", "denied")),  # looks absent
        (team_a, ORIGIN, "no-such-container", consumers.ABSENT, ("container.logs", "denied")),
        # to one who may see every container, a missing one is a failed attempt
        (admin, ORIGIN, "no-such-container", consumers.ABSENT, ("container.logs", "failed")),
    ]
    for user, origin, ref, code, recorded in cases:
        cookie = cookie_for(user) if user else None
        before = AuditEntry.objects.count()
        connected, closed_with = refused(socket_path("unix-1", ref), cookie, origin)
        assert not connected, (user, origin, ref)
        if code is not None:
            assert closed_with == code, (user, ref)
        entries = list(AuditEntry.objects.filter(id__gt=0).order_by("id")[before:])
        assert [(e.action, e.outcome) for e in entries] == [recorded], (user, ref, entries)
        assert entries[0].actor_name == (user.username if user else "")
    # the one allowed: a Developer on its own label
    lines, end, _ = read_log(cookie_for(team_a), "unix-1", ours.id, follow=0)
    assert [text for _, _, text in lines] == ["secret line"] and end["notice"] == "End of the log."


@LIVE
def test_follow_receives_new_lines_and_a_stop_ends_the_stream_with_a_notice(hosts, admin_user, container_on):
    container = container_on("unix-1", "echo one; while [ ! -f /tmp/go ]; do sleep 0.05; done; echo two; sleep 300")
    cookie = cookie_for(admin_user)

    async def run():
        socket = communicator(socket_path("unix-1", container.id), cookie)
        connected, code = await socket.connect(timeout=60)
        assert connected, code
        lines, _ = await read_until_end(socket, stop=lambda lines: len(lines) >= 1)
        await asyncio.to_thread(container.exec_run, ["touch", "/tmp/go"])
        lines, _ = await read_until_end(socket, lines, stop=lambda lines: len(lines) >= 2)
        await asyncio.to_thread(container.stop, timeout=0)
        lines, end = await read_until_end(socket, lines)
        closed = await socket.receive_output(timeout=10)
        await socket.disconnect()
        return lines, end, closed

    lines, end, closed = run_async(run())
    assert [text for _, _, text in lines] == ["one", "two"]
    assert end["notice"].startswith(f"Container {container.name} stopped (exit code 137)")
    assert closed["type"] == "websocket.close" and closed["code"] == consumers.ENDED
    entry = wait_for_entry(action="container.logs", target_id=container.id)
    assert entry.outcome == "succeeded" and entry.duration_ms is not None and entry.size_bytes > 0
    assert entry.error.startswith("2 lines sent; Container") and entry.params["follow"] is True

    container.start()  # started again: followed again, from where the page was, nothing twice
    (ts, _, _) = lines[-1]
    more, _, _ = read_log(cookie, "unix-1", container.id, after=ts, seen=1, follow=0)
    assert [text for _, _, text in more][:1] == ["one"] and all(stamp > ts for stamp, _, _ in more)


@LIVE
def test_tail_since_until_and_timestamps_match_docker_logs(hosts, admin_user, docker_env, container_on):
    script = "for i in $(seq 40); do echo out $i; echo err $i >&2; usleep 2000; done; printf 'ü \\033[31mred\\033[0m'"
    container = container_on("unix-2", script, wait=True)
    cookie = cookie_for(admin_user)

    def console(**params):
        lines, end, _ = read_log(cookie, "unix-2", container.id, follow=0, **params)
        assert end["notice"] == "End of the log."
        return [f"{ts} {text}" for ts, err, text in lines if not err], [f"{ts} {text}" for ts, err, text in lines if err]

    everything = cli(docker_env, "unix-2", "logs", "-t", container.id)
    assert console(tail="all") == everything
    assert len(everything[0]) == 41 and len(everything[1]) == 40
    assert everything[0][-1].endswith(" ü \x1b[31mred\x1b[0m")
    assert console(tail="7") == cli(docker_env, "unix-2", "logs", "-t", "--tail", "7", container.id)
    since, until = everything[0][10].split()[0], everything[0][30].split()[0]
    assert console(tail="all", since=since, until=until) == cli(
        docker_env, "unix-2", "logs", "-t", "--since", since, "--until", until, container.id
    )
    # the download without timestamps is what `docker logs` prints (stderr marked)
    client = client_of(admin_user)
    response = client.get(f"/hosts/unix-2/containers/{container.id}/logs/download/", {"timestamps": "0", "tail": "all"})
    text = b"".join(response.streaming_content).decode()
    plain_out, plain_err = cli(docker_env, "unix-2", "logs", container.id)
    assert [line for line in text.splitlines() if not line.startswith("stderr: ")] == plain_out
    assert [line.removeprefix("stderr: ") for line in text.splitlines() if line.startswith("stderr: ")] == plain_err
    entry = AuditEntry.objects.filter(action="container.logs", params__download=True).get()
    assert entry.outcome == "succeeded" and entry.size_bytes == len(text.encode())
    # a range, as the page fetches older or skipped lines
    answer = client.get(f"/hosts/unix-2/containers/{container.id}/logs/lines/", {"since": since, "until": until}).json()
    assert [f"{ts} {t}" for ts, err, t in answer["lines"] if not err] == everything[0][10:31]
    bad = client.get(f"/hosts/unix-2/containers/{container.id}/logs/lines/", {"since": "yesterday"})
    assert bad.status_code == 400 and "Not a time" in bad.json()["error"]


@LIVE
@pytest.mark.parametrize("host_name", ["unix-1", "tls-1"])
def test_a_tty_container_log_comes_out_as_whole_lines(hosts, admin_user, container_on, host_name):
    container = container_on(host_name, "printf 'héllo wörld\\n'; printf 'second '; printf 'line\\n'", tty=True, wait=True)
    lines, _, _ = read_log(cookie_for(admin_user), host_name, container.id, follow=0)
    assert [(err, text) for _, err, text in lines] == [(False, "héllo wörld"), (False, "second line")]


@LIVE
def test_a_reconnect_resumes_without_duplicate_or_gap(hosts, admin_user, docker_env, container_on):
    script = "seq 3000; while [ ! -f /tmp/go ]; do sleep 0.05; done; seq 3001 6000"
    container = container_on("unix-1", script)
    cookie = cookie_for(admin_user)

    async def run():
        socket = communicator(socket_path("unix-1", container.id, tail="all"), cookie)
        assert (await socket.connect(timeout=60))[0]
        first, _ = await read_until_end(socket, stop=lambda lines: len(lines) >= 1500)
        await socket.disconnect()  # dropped mid-way
        await asyncio.to_thread(container.exec_run, ["touch", "/tmp/go"])
        ts = first[-1][0]
        seen = sum(1 for line in first if line[0] == ts)
        socket = communicator(socket_path("unix-1", container.id, after=ts, seen=seen), cookie)
        assert (await socket.connect(timeout=60))[0]
        rest, end = await read_until_end(socket)
        await socket.disconnect()
        return first, rest, end

    first, rest, end = run_async(run())
    out, _ = cli(docker_env, "unix-1", "logs", "-t", container.id)
    assert [f"{ts} {text}" for ts, _, text in first + rest] == out
    assert [text for _, _, text in first + rest] == [str(i) for i in range(1, 6001)]
    assert "stopped (exit code 0)" in end["notice"]


@LIVE
def test_streams_opened_and_dropped_leave_no_thread_or_socket_behind(hosts, admin_user, container_on):
    container = container_on("unix-1", "echo hello; sleep 300")
    cookie = cookie_for(admin_user)

    async def open_and_drop(count):
        sockets = [communicator(socket_path("unix-1", container.id), cookie) for _ in range(count)]
        for socket in sockets:
            assert (await socket.connect(timeout=60))[0]
            message = json.loads(await socket.receive_from(timeout=60))
            assert message["t"] == "lines"
        for socket in sockets:
            await socket.disconnect()

    run_async(open_and_drop(5))  # the pools and the first connections exist from here on
    settle("ws-container.logs")
    threads, fds = threading.active_count(), open_fds()
    for _ in range(3):  # a stream's leak shows 120 times over, a round's 3 times
        run_async(open_and_drop(40))  # 40 at once: past the host client's pool of 32 connections
    settle("ws-container.logs")
    assert AuditEntry.objects.filter(action="container.logs", outcome="succeeded").count() == 125
    assert threading.active_count() <= threads
    assert open_fds() <= fds + 2, "sockets or files left open"


def test_short_frames_without_timestamps_at_the_end_of_a_read():
    reader = LineReader(tty=False)
    assert reader.feed(frame(1, b"x\n")) == [("", False, "x")]
    assert reader.feed(frame(2, b"2024-05-01T10:00:00.123456789Z\n")) == [("", True, "2024-05-01T10:00:00.123456789Z")]
