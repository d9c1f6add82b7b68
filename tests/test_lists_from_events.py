"""The container and image lists read from the state a host's live events keep
(console/streams/state.py, issue 9): changes made with the CLI show in the list, a
dropped events stream makes the lists ask the daemon, label scope still filters.

The state is brought up to date by an event before the event is passed on to any
page, so a list read as soon as a page hears of an event already shows it: the tests
read the list the moment their own subscription receives the event."""

import threading
import time
import uuid

import pytest

from console import cli as cli_format
from console import gateway
from console.access.models import Grant, Role
from console.streams import state
from console.streams.events import Notice, hub
from tests.conftest import client_of
from tests.harness import TEST_IMAGE
from tests.parity import DockerCli, html_tree, table_rows

HOST = "unix-1"
STATE_THREADS = ("events-", "host-state")  # the state's own reads


@pytest.fixture
def asked(monkeypatch):
    """The list reads that asked a daemon (not the state's own reads): [(what, host)]."""
    calls = []

    def recording(name):
        real = getattr(gateway, name)

        def recorded(host, *args, **kwargs):
            if not threading.current_thread().name.startswith(STATE_THREADS):
                calls.append((name, host.name))
            return real(host, *args, **kwargs)

        return recorded

    for name in ("containers_of", "images_of", "containers_by_image"):
        monkeypatch.setattr(gateway, name, recording(name))
    return calls


@pytest.fixture
def watch(hosts):
    """watch(*types) -> a subscription to unix-1's events of these types; closed at the end."""
    subscriptions = []

    def join(*types):
        subscriptions.append(hub.join(hosts[HOST], lambda event: event["type"] in types))
        return subscriptions[-1]

    yield join
    for subscription in subscriptions:
        subscription.close()


def next_item(subscription, timeout=60):
    with subscription.ready:
        subscription.ready.wait_for(lambda: subscription.items, timeout)
        assert subscription.items, "nothing came"
        return subscription.items.popleft()


def until(subscription, action, ref="", name=""):
    """The next event with this action (and object id or name attribute)."""
    while True:
        event = next_item(subscription)
        if isinstance(event, Notice):
            continue
        if event["action"].split(":")[0] == action and (not ref or event["id"] == ref) and (
            not name or event["attributes"].get("name") == name
        ):
            return event


def until_notice(subscription, up):
    while True:
        item = next_item(subscription)
        if isinstance(item, Notice) and item.up == up:
            return item


def ps(client, query="all=1"):
    """{name: {State, Status, Image}} of unix-1's container list page."""
    rows = {}
    for tr, cells in table_rows(html_tree(client.get(f"/hosts/{HOST}/containers/?{query}")).find("table")):
        rows[tr.attrs["data-name"]] = {
            "State": cells["State"].find("span").text(), "Status": cells["Status"].text(), "Image": cells["Image"].text(),
        }  # fmt: skip
    return rows


@pytest.fixture
def docker_cli(docker_env, tmp_path):
    cli = DockerCli(docker_env, HOST, tmp_path)
    made = []
    cli.made = made
    yield cli
    for ref in made:
        try:
            cli("rm", "-f", ref)
        except AssertionError:
            pass


def test_the_container_list_follows_the_cli(admin_client, hosts, events_live, watch, asked, docker_cli):
    """Started, stopped, renamed, removed with the CLI: the list shows each change as soon
    as the event is out, without asking the daemon for the list."""
    events_live(hosts[HOST])
    events = watch("container")
    name = f"follow-{uuid.uuid4().hex[:8]}"
    ref = docker_cli("run", "-d", "--name", name, "--network", "none", TEST_IMAGE, "sleep", "300").strip()
    docker_cli.made.append(ref)
    until(events, "start", ref)
    assert ps(admin_client)[name]["State"] == "running"
    assert ps(admin_client)[name]["Status"].startswith("Up ")
    assert name in ps(admin_client, "")  # docker ps without -a
    docker_cli("stop", "-t", "0", name)
    until(events, "stop", ref)
    row = ps(admin_client)[name]
    assert row["State"] == "exited" and row["Status"].startswith("Exited (137) ")
    assert name not in ps(admin_client, "")
    docker_cli("rename", name, f"{name}-renamed")
    until(events, "rename", ref)
    rows = ps(admin_client)
    assert f"{name}-renamed" in rows and name not in rows
    docker_cli("rm", f"{name}-renamed")
    until(events, "destroy", ref)
    assert not {name, f"{name}-renamed"} & set(ps(admin_client))
    assert asked == [], "a list asked the daemon while its events were live"


def test_health_comes_from_a_fresh_inspect(admin_client, hosts, events_live, watch, asked, docker_cli):
    """A health check's result is an event that does not carry the status text: the
    state inspects the container again, and the list says "(healthy)"."""
    events_live(hosts[HOST])
    events = watch("container")
    name = f"health-{uuid.uuid4().hex[:8]}"
    ref = docker_cli(
        "run", "-d", "--name", name, "--network", "none", "--health-cmd", "true", "--health-interval", "1s",
        TEST_IMAGE, "sleep", "300",
    ).strip()  # fmt: skip
    docker_cli.made.append(ref)
    until(events, "start", ref)
    assert ps(admin_client)[name]["Status"].endswith("(health: starting)")
    until(events, "health_status", ref)
    assert ps(admin_client)[name]["Status"].endswith("(healthy)")
    assert asked == []


def test_image_events_change_the_image_list_and_the_containers_image(
    admin_client, hosts, events_live, watch, asked, docker_cli
):
    """docker tag shows in the image list; once the tag is removed, a container made from
    it shows its image id, as the daemon then says."""
    events_live(hosts[HOST])
    events = watch("container", "image")
    alias = f"alias-{uuid.uuid4().hex[:8]}:1"
    docker_cli("tag", TEST_IMAGE, alias)
    until(events, "tag", name=alias)
    page = html_tree(admin_client.get(f"/hosts/{HOST}/images/?reference={alias}"))
    assert [cells["Repository"].text() for _, cells in table_rows(page.find("table"))] == [alias.split(":")[0]]
    name = f"made-from-{uuid.uuid4().hex[:8]}"
    ref = docker_cli("create", "--name", name, "--network", "none", alias, "true").strip()
    docker_cli.made.append(ref)
    until(events, "create", ref)
    assert ps(admin_client)[name]["Image"] == alias
    docker_cli("rmi", alias)
    until(events, "untag")
    assert ps(admin_client)[name]["Image"] == docker_cli(
        "ps", "-a", "--no-trunc", "--filter", f"id={ref}", "--format", "{{.Image}}"
    ).strip()
    page = html_tree(admin_client.get(f"/hosts/{HOST}/images/?reference={alias}"))
    assert not table_rows(page.find("table"))
    assert asked == []


def test_a_dropped_events_stream_makes_the_lists_ask_the_daemon(admin_client, hosts, events_live, watch, asked, docker_cli):
    host = hosts[HOST]
    events_live(host)
    notices = watch()  # notices only
    hub.feeds[host.pk].stream.cancel()  # the stream drops
    until_notice(notices, up=False)
    assert state.live(host) is None
    name = f"while-down-{uuid.uuid4().hex[:8]}"
    docker_cli.made.append(docker_cli("create", "--name", name, "--network", "none", TEST_IMAGE, "true").strip())
    assert name in ps(admin_client)
    assert ("containers_of", HOST) in asked  # from the daemon
    until_notice(notices, up=True)  # resubscribed: the state is read in full again
    deadline = time.monotonic() + 60
    while not state.live(host):
        assert time.monotonic() < deadline
        time.sleep(0.02)
    asked.clear()
    assert name in ps(admin_client)
    assert asked == []


def test_label_scope_still_filters(hosts, events_live, make_user, containers, asked):
    """A label-scoped viewer sees only the containers carrying one of its labels (one
    grant: Docker's label filter; several: one of them), from the state as from the daemon."""
    tag = uuid.uuid4().hex[:6]
    made = {team: containers(HOST, labels={"team": team}, name=f"team-{team}-{tag}") for team in ("a", "b", "c")}
    one = make_user(f"one-{tag}", role="Viewer", host=hosts[HOST], label="team=a")
    two = make_user(f"two-{tag}", role="Viewer", host=hosts[HOST], label="team=a")
    Grant.objects.create(user=two, role=Role.objects.get(name="Viewer"), host=hosts[HOST], label_key="team", label_value="c")

    def seen(user):
        return {name for name in ps(client_of(user)) if name.endswith(tag)}

    from_daemon = {user: seen(user) for user in (one, two)}
    events_live(hosts[HOST])
    asked.clear()
    assert {user: seen(user) for user in (one, two)} == from_daemon
    assert from_daemon == {one: {made["a"].name}, two: {made["a"].name, made["c"].name}}
    assert asked == []


@pytest.mark.parametrize("state_, status", [
    ({"Running": True, "StartedAt": "2026-01-01T00:00:00.5Z"}, "Up 2 minutes"),  # Go truncates
    ({"Running": True, "Paused": True, "StartedAt": "2026-01-01T00:00:00Z"}, "Up 3 minutes (Paused)"),
    ({"Running": True, "StartedAt": "2026-01-01T00:02:59.9Z", "Health": {"Status": "starting"}},
     "Up Less than a second (health: starting)"),
    ({"Running": True, "StartedAt": "2026-01-01T00:00:00Z", "Health": {"Status": "unhealthy"}}, "Up 3 minutes (unhealthy)"),
    ({"Running": True, "Restarting": True, "ExitCode": 1, "StartedAt": "2026-01-01T00:00:00Z",
      "FinishedAt": "2026-01-01T00:02:58Z"}, "Restarting (1) 2 seconds ago"),
    ({"Status": "exited", "ExitCode": 3, "StartedAt": "2025-12-31T22:00:00Z", "FinishedAt": "2025-12-31T23:00:00Z"},
     "Exited (3) About an hour ago"),
    ({"Status": "created", "StartedAt": "0001-01-01T00:00:00Z", "FinishedAt": "0001-01-01T00:00:00Z"}, "Created"),
    ({"Status": "dead", "Dead": True, "StartedAt": "2026-01-01T00:00:00Z"}, "Dead"),
    ({"Status": "removing", "StartedAt": "2026-01-01T00:00:00Z"}, "Removal In Progress"),
])  # fmt: skip
def test_the_status_text_is_the_daemons(state_, status):
    """`docker ps`'s STATUS from an inspect State, as the daemon's State.String() writes it."""
    now = cli_format.docker_seconds("2026-01-01T00:03:00Z")
    assert cli_format.container_status(state_, now) == status


def test_a_feed_left_lingers_with_its_state_then_stops(hosts, settings):
    """Going from page to page keeps the host's feed and its state (read once); nobody
    coming back, the feed stops."""
    settings.EVENTS_LINGER_SECONDS = 0.5
    host = hosts[HOST]
    first = hub.join(host, lambda event: False)
    deadline = time.monotonic() + 60
    while not state.live(host):
        assert time.monotonic() < deadline
        time.sleep(0.02)
    feed = hub.feeds[host.pk]
    first.close()
    time.sleep(0.1)
    second = hub.join(host, lambda event: False)  # the next page, within the linger
    assert hub.feeds[host.pk] is feed and state.live(host) is feed.state  # not read again
    second.close()
    feed.thread.join(timeout=30)  # stopped once the linger passed with nobody back
    assert not feed.thread.is_alive() and host.pk not in hub.feeds and state.live(host) is None
