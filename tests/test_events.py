"""Host events (console/streams/events.py and the events websocket) against the real
test daemons, with the docker CLI pointed at the same daemon."""

import asyncio
import json
import threading

import pytest

from console.access.models import Grant, Role
from console.audit.models import AuditEntry
from console.streams import consumers, events
from tests.conftest import run_async
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
        for socket in sockets:
            assert (await socket.connect(timeout=60))[0]
        counts = [events.hub.streams()]
        for socket in sockets[:-1]:
            await socket.disconnect()
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
    subscription = events.Subscription(feed, accept=lambda e: e["type"] == "container")
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
