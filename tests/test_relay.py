"""Events across console processes through the Redis channel layer (console/streams/
relay.py): two hubs stand for two console processes sharing one Redis server (started
here, on 127.0.0.1). One of them reads the daemon's events; the other gets them relayed,
and takes over, missing nothing, when the reader stops."""

import queue
import shutil
import socket
import subprocess
import threading
import time

import pytest

from console.streams import events
from tests.harness import TEST_IMAGE
from tests.test_logs import cli

REDIS_SERVER = shutil.which("redis-server", path="/usr/bin:/usr/sbin:/usr/local/bin")


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory):
    assert REDIS_SERVER, "redis-server is missing: scripts/test installs it (Debian's redis-server)"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    folder = tmp_path_factory.mktemp("redis")
    server = subprocess.Popen(
        [REDIS_SERVER, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", str(folder)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        server.terminate()
        server.wait(10)


@pytest.fixture
def with_redis(settings, redis_url):
    settings.REDIS_URL = redis_url
    settings.CHANNEL_LAYERS = {
        "default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": [redis_url]}}
    }


def receiver(subscription):
    """The subscription's items in a queue (its `next()` blocks)."""
    items = queue.Queue()

    def pump():
        while (item := subscription.next()) is not None:
            items.put(item)

    threading.Thread(target=pump, daemon=True).start()
    return items


def event_of(items, container_id, action, seconds=20):
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        try:
            item = items.get(timeout=left)
        except queue.Empty:
            break
        if isinstance(item, dict) and item["id"] == container_id and item["action"] == action:
            return item
    raise AssertionError(f"no {action} event of {container_id} within {seconds} s")


def until(condition, seconds=20):
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_two_processes_read_one_daemon_stream_and_hand_it_over(hosts, docker_env, with_redis):
    host = hosts["unix-1"]
    one, two = events.Hub(), events.Hub()  # two console processes
    first = one.join(host, lambda e: e["type"] == "container")
    until(lambda: one.feeds[host.pk].streams_opened == 1)
    second = two.join(host, lambda e: e["type"] == "container")
    until(lambda: two.feeds[host.pk].relay is not None and two.feeds[host.pk].relay.following)
    items_one, items_two = receiver(first), receiver(second)
    made = []
    try:
        (started,), _ = cli(docker_env, "unix-1", "run", "-d", "--network", "none", TEST_IMAGE, "sleep", "300")
        made.append(started)
        assert event_of(items_one, started, "start")["host"] == "unix-1"
        assert event_of(items_two, started, "start")["host"] == "unix-1"
        assert (one.feeds[host.pk].streams_opened, two.feeds[host.pk].streams_opened) == (1, 0)

        first.close()  # the reading process's last page leaves: the other takes over
        (created,), _ = cli(docker_env, "unix-1", "create", "--network", "none", TEST_IMAGE, "true")
        made.append(created)
        assert event_of(items_two, created, "create")  # made during the handover: not missed
        assert two.feeds[host.pk].streams_opened == 1 and not one.feeds
    finally:
        second.close()
        for ref in made:
            cli(docker_env, "unix-1", "rm", "-f", ref)
    until(lambda: not two.feeds)
