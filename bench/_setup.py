"""Shared by the bench scripts: Django on a throw-away data folder, and raw Engine API
calls (the yardstick every benchmark reports its ratio against)."""

import http.client
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def django_client():
    """A logged-in (superuser) Django test client on a fresh database."""
    os.environ.setdefault("WHARF_DATA_DIR", tempfile.mkdtemp(prefix="wharf-bench-"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "console.settings")
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.test import Client
    from django.test.utils import setup_test_environment

    setup_test_environment()
    call_command("migrate", verbosity=0)
    user = get_user_model().objects.create_superuser("bench", password="bench-password-1")
    client = Client()
    client.force_login(user)
    return client


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("localhost")
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(self.path)


def raw_get(connection, path):
    """GET on a kept-alive connection; returns the body (read in full)."""
    connection.request("GET", path)
    response = connection.getresponse()
    body = response.read()
    assert response.status == 200, (response.status, body[:200])
    return body


def median_seconds(fn, runs=5, warmup=1):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


# --- list pages: the page and the raw calls timed in turns ---


def all_at_once(calls):
    def run():
        threads = [threading.Thread(target=call) for call in calls]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    return run


def page(client, url, expect_rows):
    def get():
        response = client.get(url)
        assert response.status_code == 200, response.status_code
        rows = response.content.count(b"<tr data-host=")
        assert rows == expect_rows, (url, rows, expect_rows)

    return get


def interleaved(measures, runs=5):
    """Median seconds of each function, run in turns (raw, page, raw, page, ...) so that
    both see the same load on a shared machine; also the page's CPU time in this process."""
    for fn in measures.values():
        fn()  # warm up: connections, clients, templates
    times = {name: [] for name in measures}
    cpu = {name: [] for name in measures}
    for _ in range(runs):
        for name, fn in measures.items():
            wall, started = time.perf_counter(), time.process_time()
            fn()
            times[name].append(time.perf_counter() - wall)
            cpu[name].append(time.process_time() - started)
    return {n: statistics.median(t) for n, t in times.items()}, {n: statistics.median(t) for n, t in cpu.items()}


def profile(client, url):
    import cProfile
    import pstats

    client.get(url)
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(3):
        client.get(url)
    profiler.disable()
    stats = pstats.Stats(profiler)
    stats.sort_stats("cumulative").print_stats(30)
    stats.sort_stats("tottime").print_stats(20)


def events_live(hosts, wait=30):
    """Keep the hosts' events live, as an open list page does (console/streams/events.py),
    until the event-fed state of each is read; returns a function that leaves."""
    from console.streams import state
    from console.streams.events import hub

    subscriptions = [hub.join(host, lambda event: False) for host in hosts]
    deadline = time.monotonic() + wait
    while not all(state.live(h) for h in hosts):
        assert time.monotonic() < deadline, "the hosts' state was not read in time"
        time.sleep(0.05)
    return lambda: [s.close() for s in subscriptions]


# --- the console's server, as scripts/run starts it ---


def serve(port):
    """The console's server (console/server.py: daphne, bounded), as `scripts/run` starts
    it, in a process of its own."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(
        [sys.executable, "-m", "console.server", "-b", "127.0.0.1", "-p", str(port)],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return process
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("daphne did not start")


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
