"""Host events (console/streams/events.py and the events websocket) against the real
test daemons, with the docker CLI pointed at the same daemon."""

import asyncio
import json
import os
import socket
import threading

import pytest

from console import gateway
from console.access.models import Grant, Role
from console.audit.models import AuditEntry
from console.hosts.models import Host
from console.streams import consumers, events
from tests.conftest import client_of, run_async
from tests.harness import TEST_IMAGE
from tests.test_logs import LIVE, cli, communicator, cookie_for, refused, wait_for_entry


def events_path(host_name, **params):
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return f"/ws/hosts/{host_name}/events/" + (f"?{query}" if query else "")


async def next_event(socket, want=lambda m: True):
    """The next event message the socket receives that `want` keeps (notices skipped)."""
    while True:
        message = json.loads(await socket.receive_from(timeout=60))
        if message["t"] == "event" and want(message):
            return message


def feed_threads():
    return [t for t in threading.enumerate() if t.name.startswith("events-") and t.is_alive()]


@LIVE
def test_a_cli_start_reaches_the_subscriber_allowed_and_no_one_else(hosts, make_user, docker_env):
    admin = make_user("root", role="Admin")
    team_a = make_user("team-a", role="Viewer", host=hosts["unix-1"], label="team=a")
    cookies = cookie_for(admin), cookie_for(team_a)

    async def run():
        everyone = communicator(events_path("unix-1"), cookies[0])
        scoped = communicator(events_path("unix-1"), cookies[1])
        assert (await everyone.connect(timeout=60))[0] and (await scoped.connect(timeout=60))[0]
        assert events.hub.streams() == 1  # two pages, one `docker events`
        # started with the CLI directly on the daemon, not through the console
        (theirs,), _ = await asyncio.to_thread(cli, docker_env, "unix-1", "run", "-d", "--network", "none",
                                               "--label", "team=b", TEST_IMAGE, "sleep", "300")
        seen = await next_event(everyone, lambda m: m["id"] == theirs and m["action"] == "start")
        (ours,), _ = await asyncio.to_thread(cli, docker_env, "unix-1", "create", "--network", "none",
                                             "--label", "team=a", TEST_IMAGE, "true")
        # the scoped page's first event is about its own container: nothing of team b came
        first = await next_event(scoped)
        for ref in (theirs, ours):
            await asyncio.to_thread(cli, docker_env, "unix-1", "rm", "-f", ref)
        await everyone.disconnect()
        await scoped.disconnect()
        return seen, first, ours

    seen, first, ours = run_async(run())
    assert seen["type"] == "container" and seen["host"] == "unix-1" and seen["attributes"]["team"] == "b"
    assert (first["id"], first["action"]) == (ours, "create")
    entry = wait_for_entry(action="host.events", actor_name="team-a")
    assert entry.outcome == "succeeded" and " events sent; closed by the browser" in entry.error, entry.error


@LIVE
def test_the_last_subscriber_leaving_stops_the_stream(hosts, admin_user):
    cookie = cookie_for(admin_user)

    async def run():
        sockets = [communicator(events_path("unix-1"), cookie) for _ in range(3)]
        for ws in sockets:
            assert (await ws.connect(timeout=60))[0]
        counts = [events.hub.streams()]
        for ws in sockets[:-1]:
            await ws.disconnect()
        counts.append(events.hub.streams())
        await sockets[-1].disconnect()
        return counts

    before = {t.ident for t in feed_threads()}
    assert run_async(run()) == [1, 1]
    wait_for_entry(action="host.events", actor_name=admin_user.username)
    for thread in feed_threads():
        thread.join(timeout=30)  # the daemon's stream was shut down: it ends at once
    assert events.hub.streams() == 0 and not feed_threads(), before


@LIVE
def test_refusals_close_before_accept_and_are_recorded(hosts, make_user):
    elsewhere = make_user("elsewhere", role="Viewer", host=hosts["unix-2"])
    lister = make_user("lister")
    Grant.objects.create(user=lister, role=Role.objects.create(name="Lister", permissions=["container.view", "host.view"]))
    cases = [  # (who, close code, recorded)
        (None, consumers.LOGGED_OUT, ("host.events", "denied")),
        (lister, consumers.DENIED, ("host.events", "denied")),
        (elsewhere, consumers.ABSENT, ("host.view", "denied")),  # out of scope looks absent
    ]
    for user, code, recorded in cases:
        cookie = cookie_for(user) if user else None
        before = AuditEntry.objects.count()
        connected, closed_with = refused(events_path("unix-1"), cookie)
        assert (connected, closed_with) == (False, code), user
        entries = list(AuditEntry.objects.order_by("id")[before:])
        assert [(e.action, e.outcome) for e in entries] == [recorded], (user, entries)
    assert events.hub.streams() == 0


def test_a_slow_subscriber_is_told_how_many_events_it_missed():
    feed = events.Feed.__new__(events.Feed)
    subscription = events.Subscription(events.hub, feed, accept=lambda e: e["type"] == "container")
    for n in range(events.QUEUE + 7):
        subscription.offer({"type": "container", "n": n})
        subscription.offer({"type": "image", "n": n})  # filtered out: never queued nor counted
    received = [subscription.next() for _ in range(events.QUEUE)]
    assert [e["n"] for e in received] == list(range(events.QUEUE))
    skipped = subscription.next()
    assert isinstance(skipped, events.Skipped) and skipped.count == 7


@pytest.mark.parametrize("attributes, visible", [
    ({"team": "a", "name": "x"}, True), ({"team": "b"}, False), ({"name": "team"}, False),
])  # fmt: skip
def test_label_scope_keeps_only_containers_carrying_the_label(attributes, visible):
    event = {"type": "container", "attributes": attributes}
    assert events.visible_to([("team", "a")])(event) is visible
    assert events.visible_to([("team", "a")])({**event, "type": "image"}) is False
    assert events.visible_to(None)({**event, "type": "network"}) is True


@LIVE
def test_history_is_filtered_for_the_user_and_by_the_page(hosts, make_user, docker_env):
    admin = make_user("root", role="Admin")
    team_a = make_user("team-a", role="Viewer", host=hosts["unix-1"], label="team=a")
    made = []
    for team in ("a", "b"):
        (ref,), _ = cli(docker_env, "unix-1", "create", "--name", f"hist-{team}", "--network", "none",
                        "--label", f"team={team}", TEST_IMAGE, "true")  # fmt: skip
        made.append(ref)
    try:
        whole = client_of(admin).get("/hosts/unix-1/events/?since=5m&type=container").content.decode()
        scoped = client_of(team_a).get("/hosts/unix-1/events/?since=5m").content.decode()
        only_a = client_of(admin).get("/events/?since=5m&label=team%3Da&action=create").content.decode()
        bad = client_of(admin).get("/events/?since=yesterday-ish")
    finally:
        for ref in made:
            cli(docker_env, "unix-1", "rm", ref)
    assert "hist-a" in whole and "hist-b" in whole
    assert "hist-a" in scoped and "hist-b" not in scoped
    assert "hist-a" in only_a and "hist-b" not in only_a
    assert bad.status_code == 200 and "Not a time" in bad.content.decode()
    # a scoped user's page subscribes; one without the events action gets no socket
    assert 'data-sockets="/ws/hosts/unix-1/events/?"' in scoped


class Relay:
    """A unix socket forwarding to a test daemon's, that can be cut and restored: a host
    that goes away and comes back, without touching the daemon."""

    def __init__(self, path, daemon_path):
        self.path, self.daemon_path, self.open_sockets = path, daemon_path, []
        self.lock = threading.Lock()

    def start(self):
        self.listener = socket.socket(socket.AF_UNIX)
        self.listener.bind(self.path)
        self.listener.listen()
        threading.Thread(target=self._accept, args=(self.listener,), daemon=True).start()

    def _accept(self, listener):
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            with self.lock:
                if listener is not self.listener:  # accepted as it was being cut
                    client.close()
                    return
                daemon = socket.socket(socket.AF_UNIX)
                daemon.connect(self.daemon_path)
                self.open_sockets += [client, daemon]
            for a, b in ((client, daemon), (daemon, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(source, sink):
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        for s in (source, sink):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def cut(self):
        with self.lock:
            listener, self.listener = self.listener, None
            listener.shutdown(socket.SHUT_RDWR)  # wakes the accepting thread
            listener.close()
            os.unlink(self.path)
            for s in self.open_sockets:
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            self.open_sockets = []


@LIVE
def test_a_host_that_goes_away_is_resubscribed_and_nothing_is_missed(hosts, admin_user, docker_env, tmp_path):
    unix_1 = next(d for d in docker_env.daemons if d.name == "unix-1")
    relay = Relay(str(tmp_path / "relay.sock"), unix_1.url.removeprefix("unix://"))
    relay.start()
    flaky = Host.objects.create(name="flaky", url=f"unix://{relay.path}")
    cookie = cookie_for(admin_user)

    async def run():
        ws = communicator(events_path("flaky", type="container"), cookie)
        assert (await ws.connect(timeout=60))[0]
        while events.hub.feeds[flaky.pk].stream is None:  # the feed's stream is open
            await asyncio.sleep(0.01)
        relay.cut()
        gone = json.loads(await ws.receive_from(timeout=60))
        # created while the host is away: delivered once it is back (since = last event)
        (ref,), _ = await asyncio.to_thread(cli, docker_env, "unix-1", "create", "--name", "while-away",
                                            "--network", "none", TEST_IMAGE, "true")  # fmt: skip
        relay.start()
        messages = [json.loads(await ws.receive_from(timeout=60)) for _ in range(2)]
        await asyncio.to_thread(cli, docker_env, "unix-1", "rm", ref)
        await ws.disconnect()
        return gone, messages, ref

    try:
        gone, (back, event), ref = run_async(run())
    finally:
        gateway.forget(flaky)
    assert gone["t"] == "notice" and not gone["up"] and "flaky" in gone["text"]
    assert back["t"] == "notice" and back["up"]
    assert (event["t"], event["id"], event["action"]) == ("event", ref, "create")
