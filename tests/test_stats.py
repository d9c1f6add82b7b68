"""Container stats (`docker stats`): the CLI's figures from the Engine's samples
(console/streams/usage.py), the shared per-container streams (console/streams/stats.py)
and the stats websockets, against the real test daemons and the docker CLI."""

import asyncio
import copy
import json
import re
import threading
import uuid
from pathlib import Path

import pytest

from console import gateway
from console.access.models import Grant, Role
from console.audit.models import AuditEntry
from console.hosts.models import Host
from console.streams import consumers, events, stats
from console.streams.usage import usage_of
from tests.conftest import open_fds, run_async, settle
from tests.harness import TEST_IMAGE
from tests.parity import DockerCli
from tests.test_events import Relay
from tests.test_logs import LIVE, ORIGIN, cli, communicator, cookie_for, refused, wait_for_entry

DATA = Path(__file__).parent / "data"


def sample(name):
    return json.loads((DATA / f"stats_cgroup_{name}.json").read_text())["sample"]


# --- the CLI's figures, from recorded samples ----------------------------------------------


def test_cgroup_v1_sample_gives_what_docker_stats_printed_for_it():
    usage = usage_of(sample("v1"))
    assert usage.columns() == {  # what `docker stats --no-stream` printed for this container
        "BlockIO": "0B / 0B", "CPUPerc": "0.00%", "Container": "28d183aaf9c5", "ID": "28d183aaf9c5",
        "MemPerc": "0.43%", "MemUsage": "1.094MiB / 256MiB", "Name": "recorded", "NetIO": "0B / 0B", "PIDs": "1",
    }  # fmt: skip
    # 20 MiB written to a file is inactive page cache (total_inactive_file): not counted
    assert usage.memory == 22118400 - 20971520 and usage.limit == 256 * 2**20 and usage.running


def test_cgroup_v2_sample():
    usage = usage_of(sample("v2"))
    assert usage.cpu == pytest.approx(50.0)  # 0.5 s of 4 s of CPU time (4 CPUs over 1 s) x 4 CPUs
    assert usage.memory == 52428800 - 10485760  # minus inactive_file
    assert (usage.net_rx, usage.net_tx) == (4000, 1000)  # summed over eth0 and eth1
    assert (usage.block_read, usage.block_write) == (4097000, 1052672)  # summed over devices
    assert usage.columns() == {
        "BlockIO": "4.1MB / 1.05MB", "CPUPerc": "50.00%", "Container": "5d8f0c3b1a2e", "ID": "5d8f0c3b1a2e",
        "MemPerc": "0.51%", "MemUsage": "40MiB / 7.639GiB", "Name": "web", "NetIO": "4kB / 1kB", "PIDs": "3",
    }  # fmt: skip


def test_cgroup_v1_block_io_counts_read_and_write_only_and_cpus_from_percpu():
    raw = copy.deepcopy(sample("v1"))
    raw["blkio_stats"]["io_service_bytes_recursive"] = [
        {"major": 8, "minor": 0, "op": op, "value": value}
        for op, value in (("Read", 3000), ("Write", 500), ("Sync", 3500), ("Async", 0), ("Total", 3500))
    ] + [{"major": 8, "minor": 16, "op": "Read", "value": 1000}]
    raw["cpu_stats"]["cpu_usage"]["total_usage"] += 10**9  # one CPU-second...
    raw["cpu_stats"]["system_cpu_usage"] = raw["precpu_stats"]["system_cpu_usage"] + 4 * 10**9  # ...of 4
    del raw["cpu_stats"]["online_cpus"]  # older daemons: the per-CPU figures say how many (2)
    usage = usage_of(raw)
    assert (usage.block_read, usage.block_write) == (4000, 500)
    assert usage.cpu == pytest.approx(50.0)


def test_the_first_sample_and_a_stopped_container():
    raw = copy.deepcopy(sample("v1"))
    raw["precpu_stats"] = {"cpu_usage": {"total_usage": 0}, "throttling_data": {}}  # a stream's first sample
    assert usage_of(raw).cpu == pytest.approx(raw["cpu_stats"]["cpu_usage"]["total_usage"] / 738730000000 * 2 * 100)
    stopped = {"read": "0001-01-01T00:00:00Z", "preread": "0001-01-01T00:00:00Z", "pids_stats": {},
               "blkio_stats": {"io_service_bytes_recursive": None}, "cpu_stats": {"cpu_usage": {"total_usage": 0}},
               "precpu_stats": {"cpu_usage": {"total_usage": 0}}, "memory_stats": {}, "name": "/x", "id": "ab" * 32}  # fmt: skip
    usage = usage_of(stopped)
    assert not usage.running
    assert usage.columns() == {
        "BlockIO": "0B / 0B", "CPUPerc": "0.00%", "Container": "abababababab", "ID": "abababababab",
        "MemPerc": "0.00%", "MemUsage": "0B / 0B", "Name": "x", "NetIO": "0B / 0B", "PIDs": "0",
    }  # fmt: skip


def test_a_slow_page_gets_the_latest_sample_not_a_queue():
    watch = stats.Watch()
    for n in range(1000):
        watch.offer("a", n)
        watch.offer("b", -n)
    assert watch.next() == {"a": 999, "b": -999}  # one item per container, the newest
    watch.close()
    assert watch.next() is None


# --- the websockets, against the test daemons ------------------------------------------------


def stats_path(host_name, ref=None):
    return f"/ws/hosts/{host_name}/containers/{ref}/stats/" if ref else f"/ws/hosts/{host_name}/stats/"


async def next_rows(socket, want=lambda row: True):
    """The rows of the next stats message with a row `want` keeps, and the message."""
    while True:
        message = json.loads(await socket.receive_from(timeout=60))
        if message["t"] == "stats" and any(want(row) for row in message["rows"]):
            return {row["id"]: row for row in message["rows"]}, message


def feed_threads():
    return [t for t in threading.enumerate() if t.name.startswith("stats-") and t.is_alive()]


def cli_bytes(text):
    """A size as the docker CLI prints it ("1.094MiB", "4.1kB") in bytes (about)."""
    number, unit = re.fullmatch(r"([0-9.e+]+)([A-Za-z]+)", text).groups()
    scale = {"B": 1, "kB": 1e3, "MB": 1e6, "GB": 1e9, "KiB": 2**10, "MiB": 2**20, "GiB": 2**30}[unit]
    return float(number) * scale


def about(ours, theirs, tolerance=0.1, slack=512 * 1024):
    """Two "used / limit" or "in / out" figures of the CLI, each within 10% (or 512 KiB):
    an idle container's page cache and counters move a little between two reads."""
    for a, b in zip(ours.split(" / "), theirs.split(" / "), strict=True):
        a, b = cli_bytes(a), cli_bytes(b)
        assert abs(a - b) <= max(tolerance * max(a, b), slack), (ours, theirs)
    return True


@LIVE
def test_a_container_page_matches_docker_stats(hosts, admin_user, docker_env, docker_of, tmp_path):
    docker = docker_of("unix-2")
    container = docker.containers.run(TEST_IMAGE, ["sh", "-c", "sleep 1000 & sleep 1000 & wait"], detach=True,
                                      network_disabled=True, mem_limit="96m", name=f"stats-{uuid.uuid4().hex[:8]}")  # fmt: skip
    docker_of.made.append(("unix-2", container.id))
    cookie = cookie_for(admin_user)

    async def run():
        ws = communicator(stats_path("unix-2", container.id), cookie)
        assert (await ws.connect(timeout=60))[0]
        await next_rows(ws, lambda row: row["running"] and row["pids"] == 3)  # settled
        theirs = await asyncio.to_thread(DockerCli(docker_env, "unix-2", tmp_path).json_lines,
                                         "stats", "--no-stream", container.id)  # fmt: skip
        rows, _ = await next_rows(ws)  # the sample after the CLI's
        await ws.disconnect()
        return rows[container.id], theirs

    row, (theirs,) = run_async(run())
    ours = row["text"]
    assert (ours["Name"], ours["ID"], ours["PIDs"]) == (theirs["Name"], theirs["ID"], theirs["PIDs"]) == (
        container.name, container.id[:12], "3")  # fmt: skip
    assert ours["MemUsage"].split(" / ")[1] == theirs["MemUsage"].split(" / ")[1] == "96MiB"
    assert row["limit"] == 96 * 2**20
    assert about(ours["MemUsage"], theirs["MemUsage"]) and about(ours["NetIO"], theirs["NetIO"])
    assert about(ours["BlockIO"], theirs["BlockIO"])
    assert float(ours["CPUPerc"][:-1]) < 5 and float(theirs["CPUPerc"][:-1]) < 5  # idle
    entry = wait_for_entry(action="container.stats", target_id=container.id)
    assert entry.outcome == "succeeded" and "updates sent; closed by the browser" in entry.error


@LIVE
def test_two_pages_on_one_container_share_one_stream_stopped_when_both_leave(hosts, make_user, containers):
    container = containers("unix-1")
    cookies = cookie_for(make_user("viewer", role="Viewer")), cookie_for(make_user("dev", role="Developer"))

    async def run():
        sockets = [communicator(stats_path("unix-1", container.id), cookie) for cookie in cookies]
        for ws in sockets:
            assert (await ws.connect(timeout=60))[0]
        for ws in sockets:
            await next_rows(ws, lambda row: row["id"] == container.id)
        during = stats.hub.streams(), len(feed_threads())
        await sockets[0].disconnect()
        await next_rows(sockets[1])  # the other page still gets samples
        after_one = stats.hub.streams()
        await sockets[1].disconnect()
        return during, after_one

    during, after_one = run_async(run())
    assert during == (1, 1) and after_one == 1
    for name in ("viewer", "dev"):
        wait_for_entry(action="container.stats", actor_name=name)
    for thread in feed_threads():
        thread.join(timeout=30)  # its stream was shut down: it ends at once
    assert stats.hub.streams() == 0 and not feed_threads()


@LIVE
def test_refusals_close_before_accept_and_are_recorded(hosts, make_user, containers):
    ours = containers("unix-1", labels={"team": "a"})
    theirs = containers("unix-1", labels={"team": "b"})
    team_a = make_user("team-a", role="Viewer", host=hosts["unix-1"], label="team=a")
    elsewhere = make_user("elsewhere", role="Viewer", host=hosts["unix-2"])
    lister = make_user("lister")
    Grant.objects.create(user=lister, role=Role.objects.create(name="Lister", permissions=["container.view", "host.view"]))
    admin = make_user("root", role="Admin")
    cases = [  # (who, origin, path, close code, recorded)
        (None, ORIGIN, stats_path("unix-1", ours.id), consumers.LOGGED_OUT, ("container.stats", "denied")),
        (None, ORIGIN, stats_path("unix-1"), consumers.LOGGED_OUT, ("container.stats", "denied")),
        (admin, b"http://evil.example", stats_path("unix-1", ours.id), None, ("container.stats", "denied")),
        (admin, b"http://evil.example", stats_path("unix-1"), None, ("container.stats", "denied")),
        (lister, ORIGIN, stats_path("unix-1", ours.id), consumers.DENIED, ("container.stats", "denied")),
        (lister, ORIGIN, stats_path("unix-1"), consumers.DENIED, ("container.stats", "denied")),
        (elsewhere, ORIGIN, stats_path("unix-1"), consumers.ABSENT, ("host.view", "denied")),
        # out of scope looks exactly like absent
        (team_a, ORIGIN, stats_path("unix-1", theirs.id), consumers.ABSENT, ("container.stats", "denied")),
        (team_a, ORIGIN, stats_path("unix-1", "no-such-container"), consumers.ABSENT, ("container.stats", "denied")),
        (admin, ORIGIN, stats_path("unix-1", "no-such-container"), consumers.ABSENT, ("container.stats", "failed")),
    ]
    cookies = {user: cookie_for(user) for user in (team_a, elsewhere, lister, admin)}  # logins recorded now
    for user, origin, path, code, recorded in cases:
        before = AuditEntry.objects.count()
        connected, closed_with = refused(path, cookies.get(user), origin)
        assert not connected, (user, path)
        if code is not None:
            assert closed_with == code, (user, path, closed_with)
        entries = list(AuditEntry.objects.order_by("id")[before:])
        assert [(e.action, e.outcome) for e in entries] == [recorded], (user, path, entries)
    assert stats.hub.streams() == 0


@LIVE
def test_a_host_table_shows_only_the_containers_in_scope_and_those_that_start(hosts, make_user, docker_env, containers):
    a1 = containers("unix-1", labels={"team": "a"})
    b1 = containers("unix-1", labels={"team": "b"})
    containers("unix-1", labels={"team": "a"}, start=False)  # not running: not in `docker stats`
    team_a = make_user("team-a", role="Viewer", host=hosts["unix-1"], label="team=a")
    cookies = cookie_for(team_a), cookie_for(make_user("root", role="Admin"))

    async def run():
        scoped = communicator(stats_path("unix-1"), cookies[0])
        everyone = communicator(stats_path("unix-1"), cookies[1])
        assert (await scoped.connect(timeout=60))[0] and (await everyone.connect(timeout=60))[0]
        seen = {"scoped": set(), "everyone": set()}
        for name, ws in (("scoped", scoped), ("everyone", everyone)):
            while {a1.id} - seen[name] or (name == "everyone" and b1.id not in seen[name]):
                rows, _ = await next_rows(ws)
                seen[name] |= set(rows)
        # started later, with the CLI: b2 first, then a2; the scoped page sees a2 and never b2
        (b2,), _ = await asyncio.to_thread(cli, docker_env, "unix-1", "run", "-d", "--network", "none",
                                           "--label", "team=b", TEST_IMAGE, "sleep", "300")  # fmt: skip
        (a2,), _ = await asyncio.to_thread(cli, docker_env, "unix-1", "run", "-d", "--network", "none",
                                           "--label", "team=a", TEST_IMAGE, "sleep", "300")  # fmt: skip
        while a2 not in seen["scoped"]:
            rows, message = await next_rows(scoped)
            seen["scoped"] |= set(rows) | {g["id"] for g in message["gone"]}
        while b2 not in seen["everyone"]:
            rows, _ = await next_rows(everyone)
            seen["everyone"] |= set(rows)
        streams = stats.hub.streams()
        # a container that stops leaves the table
        await asyncio.to_thread(cli, docker_env, "unix-1", "stop", "-t", "0", a2)
        while True:
            message = json.loads(await scoped.receive_from(timeout=60))
            seen["scoped"] |= {row["id"] for row in message.get("rows", ())}
            if a2 in [g["id"] for g in message.get("gone", ())]:
                break
        for ref in (a2, b2):
            await asyncio.to_thread(cli, docker_env, "unix-1", "rm", "-f", ref)
        await scoped.disconnect()
        await everyone.disconnect()
        return seen, a2, b2, streams

    seen, a2, b2, streams = run_async(run())
    assert seen["scoped"] == {a1.id, a2}  # nothing of team b, nor the stopped container
    assert {a1.id, b1.id, b2} <= seen["everyone"]
    assert streams >= 3  # a1, b1, a2, b2 (each once, shared by both pages)
    entry = wait_for_entry(action="container.stats", actor_name="team-a")
    assert entry.target_name == "(running containers)" and entry.outcome == "succeeded"
    for thread in feed_threads():
        thread.join(timeout=30)
    assert stats.hub.streams() == 0 and events.hub.streams() == 0


@LIVE
def test_a_stopped_container_says_so_and_a_removed_one_ends_the_stream(hosts, admin_user, containers):
    container = containers("unix-1")
    cookie = cookie_for(admin_user)

    async def run():
        ws = communicator(stats_path("unix-1", container.id), cookie)
        assert (await ws.connect(timeout=60))[0]
        await next_rows(ws, lambda row: row["running"])
        await asyncio.to_thread(container.stop, timeout=0)
        stopped, _ = await next_rows(ws, lambda row: not row["running"])
        await asyncio.to_thread(container.start)
        await next_rows(ws, lambda row: row["running"])  # the same stream goes on
        await asyncio.to_thread(container.remove, force=True)
        while (message := json.loads(await ws.receive_from(timeout=60)))["t"] != "end":
            pass
        closed = await ws.receive_output(timeout=10)
        await ws.disconnect()
        return stopped[container.id], message, closed

    stopped, end, closed = run_async(run())
    assert stopped["text"]["MemUsage"] == "0B / 0B"
    assert "removed" in end["notice"] and closed["code"] == consumers.ENDED
    entry = wait_for_entry(action="container.stats", target_id=container.id)
    assert entry.outcome == "succeeded" and "removed" in entry.error


@LIVE
def test_a_host_that_goes_away_is_said_and_the_samples_come_back(hosts, admin_user, docker_env, containers, tmp_path):
    container = containers("unix-1")
    unix_1 = docker_env.daemon("unix-1")
    relay = Relay(str(tmp_path / "relay.sock"), unix_1.url.removeprefix("unix://"))
    relay.start()
    flaky = Host.objects.create(name="flaky", url=f"unix://{relay.path}")
    cookie = cookie_for(admin_user)

    async def run():
        ws = communicator(stats_path("flaky", container.id), cookie)
        assert (await ws.connect(timeout=60))[0]
        await next_rows(ws, lambda row: row["running"])
        relay.cut()
        while not (message := json.loads(await ws.receive_from(timeout=60)))["down"]:
            pass
        relay.start()
        rows, _ = await next_rows(ws, lambda row: row["running"])
        await ws.disconnect()
        return message["down"][0], rows

    try:
        down, rows = run_async(run())
    finally:
        gateway.forget(flaky)
    assert down["id"] == container.id and "flaky is unreachable" in down["text"]
    assert rows[container.id]["text"]["Name"] == container.name


@pytest.mark.heavy(5)
@LIVE
def test_sockets_opened_and_dropped_leave_nothing_behind(hosts, admin_user, containers):
    container = containers("unix-1")
    cookie = cookie_for(admin_user)

    async def open_and_drop(count, path):
        sockets = [communicator(path, cookie) for _ in range(count)]
        for ws in sockets:
            assert (await ws.connect(timeout=60))[0]
        for ws in sockets:
            await next_rows(ws)
        assert stats.hub.streams() == 1
        for ws in sockets:
            await ws.disconnect()

    for path in (stats_path("unix-1", container.id), stats_path("unix-1")):  # pools and first connections exist from here
        run_async(open_and_drop(5, path))
    settle("ws-container.stats", also_idle=lambda: not feed_threads())
    threads, fds = threading.active_count(), open_fds()
    for n in range(4):  # a socket's leak shows 160 times over, a round's 4 times
        run_async(open_and_drop(40, stats_path("unix-1", container.id) if n % 2 else stats_path("unix-1")))
    settle("ws-container.stats", also_idle=lambda: not feed_threads())
    assert AuditEntry.objects.filter(action="container.stats", outcome="succeeded").count() == 170
    assert stats.hub.streams() == 0 and events.hub.streams() == 0
    assert threading.active_count() <= threads
    assert open_fds() <= fds + 2, "sockets or files left open"
