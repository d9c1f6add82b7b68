"""Shared fixtures: the real Docker daemons (tests/harness.py), hosts pointing at
them, users with roles, a live daphne server and a Playwright browser."""

import asyncio
import os
import threading
import time
import uuid
from itertools import islice

import docker.errors
import pytest
from django.contrib.auth import get_user_model

from tests.harness import TEST_IMAGE, DockerEnv

CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
]  # fmt: skip
PASSWORD = "correct horse battery staple 42"


# unix-2 runs with a registry mirror and insecure registries of its own, for the
# host page (`docker info`). Nothing is pulled from Docker Hub, so the mirror is never asked.
DAEMON_CONFIG = {
    "unix-2": {
        "registry-mirrors": ["http://127.0.0.1:1/"],
        "insecure-registries": ["registry.wharf.test:5000", "10.99.0.0/16"],
    }
}


def pytest_collection_modifyitems(config, items):
    """Each module's tests spread over the whole list, then the tests marked
    `heavy(seconds)` first, spread over the pytest-xdist workers.

    Spread: tests that wait on Docker (stats samples, stops, timeouts) then run beside
    tests that keep the CPU busy, instead of a module's waits landing on every worker at
    once. A module with a module-scoped fixture stays in one piece (its fixture is set
    up once). Heavy first: no worker is left running one alone at the end. worksteal
    hands worker k the next len(rest) // (workers - k) tests of the list at the start:
    each part begins with its share of the heavy ones, the longest placed first, each
    where the least is placed."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    if workers < 2:
        return
    items[:] = _spread(items)

    def weight(item):
        marker = item.get_closest_marker("heavy")
        return marker.args[0] if marker else 0

    heavy = sorted((item for item in items if weight(item)), key=weight, reverse=True)
    parts, loads = [[] for _ in range(workers)], [0] * workers
    for item in heavy:
        k = loads.index(min(loads))
        parts[k].append(item)
        loads[k] += weight(item)
    light, ordered, left = iter([item for item in items if not weight(item)]), [], len(items)
    for k, part in enumerate(parts):
        size = left // (workers - k)
        ordered += part + list(islice(light, max(0, size - len(part))))
        left -= size
    items[:] = ordered + list(light)


def _spread(items):
    """The tests ordered by how far into its module each one is (a module whose tests
    share a module-scoped fixture counts as one test)."""
    modules = {}
    for item in items:
        modules.setdefault(item.path, []).append(item)
    placed = []
    for rank, tests in enumerate(modules.values()):
        defs = (d for t in tests for ds in t._fixtureinfo.name2fixturedefs.values() for d in ds)
        if any(d.scope != "function" and d.baseid.endswith(".py") for d in defs):  # defined in the module
            placed.append((0.5, rank, tests))
        else:
            placed += [((i + 0.5) / len(tests), rank, [test]) for i, test in enumerate(tests)]
    placed.sort(key=lambda place: place[:2])
    return [test for _, _, tests in placed for test in tests]


STATIC_FILES_MIDDLEWARE = "servestatic.middleware.ServeStaticMiddleware"


@pytest.fixture(autouse=True, scope="session")
def _test_client_without_static_files():
    """The test client's chain without ServeStatic, its one async-only middleware: in the
    client's synchronous handler it made every request cross to a new event loop thread
    and back (a fifth of a page's time). It only answers /static/ paths and passes the rest
    on, so pages run the same code; the live server (daphne, as in production) keeps it
    and serves the static files (tests/test_login.py reads one there)."""
    from django.conf import settings
    from django.test import override_settings
    from django.test.client import ClientHandler

    load_middleware = ClientHandler.load_middleware

    def without_static_files(handler, is_async=False):
        with override_settings(MIDDLEWARE=[m for m in settings.MIDDLEWARE if m != STATIC_FILES_MIDDLEWARE]):
            load_middleware(handler, is_async)

    ClientHandler.load_middleware = without_static_files
    yield
    ClientHandler.load_middleware = load_middleware


@pytest.fixture(scope="session")
def docker_env():
    env = DockerEnv(unix_daemons=2, tls_daemons=1, registry=True, ssh=True, daemon_config=DAEMON_CONFIG)
    env.start()
    try:
        yield env
    finally:
        env.stop()


def add_host(spec, name=None):
    from console.hosts.models import Host

    return Host.objects.create(
        name=name or spec.name, url=spec.url, tls_ca=spec.tls_ca or "",
        tls_cert=spec.tls_cert or "", tls_key=spec.tls_key or "",
    )  # fmt: skip


@pytest.fixture(scope="session")
def _anchor_folder(tmp_path_factory):
    return tmp_path_factory.mktemp("anchors")


@pytest.fixture(autouse=True)
def _audit_anchors(settings, _anchor_folder):
    """An anchor file per test: its anchors name entries of this test's database only."""
    settings.AUDIT_ANCHOR_FILE = _anchor_folder / f"{uuid.uuid4().hex}.anchors"


@pytest.fixture
def hosts(docker_env, db):
    """A Host row for every test daemon, by name: unix-1, unix-2, tls-1. The gateway's
    clients for them are closed afterwards (each test's rows are new hosts to it)."""
    from console import gateway

    rows = {spec.name: add_host(spec) for spec in docker_env.daemons}
    yield rows
    for host in rows.values():
        gateway.forget(host)


@pytest.fixture
def events_live():
    """events_live(*hosts): keep the hosts' events live, as an open list page does, until
    the test ends; returns once the state the events keep (console/streams/state.py)
    has been read, so the lists read it instead of asking the daemons."""
    from console.streams import state
    from console.streams.events import hub

    subscriptions = []

    def keep(*hosts):
        subscriptions.extend(hub.join(host, lambda event: False) for host in hosts)
        deadline = time.monotonic() + 60
        while not all(state.live(host) for host in hosts):
            assert time.monotonic() < deadline, "the hosts' state was never read"
            time.sleep(0.02)

    yield keep
    for subscription in subscriptions:
        subscription.close()


@pytest.fixture(params=["daemon", "events"])
def list_source(request, hosts, events_live):
    """Parametrizes a list test: the lists read from the daemons, or from the state the
    hosts' live events keep."""
    if request.param == "events":
        events_live(*hosts.values())
    return request.param


@pytest.fixture
def docker_of(docker_env):
    """docker-py clients by daemon name; containers named in `made` are removed afterwards."""
    clients, made = {}, []

    def client(name):
        if name not in clients:
            clients[name] = docker_env.client(name)
        return clients[name]

    client.made = made
    yield client
    for host_name, ref in made:
        try:
            client(host_name).api.remove_container(ref, force=True, v=True)
        except docker.errors.NotFound:
            pass


def network_options(network=None):
    """docker-py's create options for `network` ("none", "host", ...); by default
    networking disabled: isolated like `--network none`, and a start costs dockerd no
    network-namespace hook (a tenth of a second of CPU each)."""
    return {"network_mode": network} if network else {"network_disabled": True}


@pytest.fixture
def containers(docker_env):
    """The one container factory: make(host_name="unix-1", cmd="sleep 300", start=True,
    labels=None, env=None, name=None, network=None) -> a docker-py Container on that test
    daemon; every container made is force-removed at the end. It runs under docker-init
    (`--init`), so that a stop's SIGTERM ends it at once (a bare `sleep` as PID 1 ignores
    it until the stop's timeout). `network`: see `network_options`."""
    made = []

    def make(host_name="unix-1", cmd="sleep 300", start=True, labels=None, env=None, name=None, network=None):
        client = docker_env.client(host_name)
        container = client.containers.create(
            TEST_IMAGE, cmd, name=name or f"t-{uuid.uuid4().hex[:10]}", labels=labels or {},
            environment=env or {}, init=True, **network_options(network),
        )  # fmt: skip
        made.append((client, container.id))
        if start:
            container.start()
        container.reload()
        return container

    yield make
    for client, cid in made:
        try:
            client.containers.get(cid).remove(force=True)
        except docker.errors.NotFound:
            pass


@pytest.fixture
def make_user(db):
    from console.access.models import Grant, Role

    def make(username, role=None, host=None, label=None, superuser=False):
        user = get_user_model().objects.create_user(
            username, password=PASSWORD, is_superuser=superuser, is_staff=superuser
        )
        if role:
            key, _, value = (label or "").partition("=")
            Grant.objects.create(
                user=user, role=Role.objects.get(name=role), host=host,
                label_key=key, label_value=value,
            )  # fmt: skip
        return user

    return make


@pytest.fixture(autouse=True, scope="session")
def _roles_after_flush():
    """A transactional test's flush removes the rows the migrations made, then sends
    post_migrate: the built-in roles come back there, so no test depends on running
    before the transactional ones (pytest-xdist's workers do not keep that order)."""
    from django.apps import apps
    from django.db.models.signals import post_migrate

    post_migrate.connect(_builtin_roles, sender=apps.get_app_config("access"), dispatch_uid="wharf-test-roles")


def _builtin_roles(**_signal):
    from console.access.models import Role
    from console.access.roles import BUILTIN_ROLES

    for name, (description, _rule) in BUILTIN_ROLES.items():
        Role.objects.get_or_create(name=name, defaults={"builtin": True, "description": description})


@pytest.fixture
def admin_user(make_user):
    return make_user("admin", role="Admin")


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    return client


def open_fds():
    """How many file descriptors this process holds (a leak test's count)."""
    return len(os.listdir("/proc/self/fd"))


def settle(*thread_names, also_idle=lambda: True):
    """Wait (30 s at most) until no thread whose name starts with one of `thread_names`
    runs, and `also_idle()` holds: each socket's thread ends once its entry is complete."""
    for _ in range(600):
        if also_idle() and not [t for t in threading.enumerate() if t.name.startswith(thread_names)]:
            return
        time.sleep(0.05)
    raise AssertionError(f"threads still running: {', '.join(thread_names)}")


def run_async(coroutine):
    """Run a coroutine to its end from sync test code, in a thread of its own (in a
    browser test, Playwright's event loop is marked running in the main thread)."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as executor:
        return executor.submit(asyncio.run, coroutine).result()


def actor_for(user):
    from console.actions import Actor

    return Actor(user=user, name=user.get_username(), ip="127.0.0.1")


# --- live server and browser ----------------------------------------------------


class LiveServer:
    """The console's server (console/server.py, daphne bounded) serving the ASGI app
    from a thread of the test process."""

    def __init__(self):
        from console.asgi import application
        from console.server import WharfServer

        self.ready = threading.Event()
        self.server = WharfServer(
            application=application,
            endpoints=["tcp:port=0:interface=127.0.0.1"],
            signal_handlers=False,
            ready_callable=self.ready.set,
            verbosity=0,
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True, name="daphne")

    def start(self):
        self.thread.start()
        if not self.ready.wait(20):
            raise RuntimeError("daphne did not start")
        port = self.server.listening_addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    def stop(self):
        from twisted.internet import reactor

        reactor.callFromThread(reactor.stop)
        self.thread.join(10)


@pytest.fixture(scope="session")
def live_server_url(django_db_setup, django_db_blocker):
    server = LiveServer().start()
    yield server.url
    server.stop()


@pytest.fixture(scope="session")
def browser():
    """Chromium, started once per test worker (a start costs about a second of CPU).

    Playwright's sync API marks its event loop as running in the main thread after
    every call. Between browser tests the loop is marked idle again, so that in every
    other test a sync ORM call on an event loop still fails; `page` marks it running,
    and lifts Django's async-safety check, for its own test only."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        chromium.loop = asyncio.get_running_loop()
        asyncio._set_running_loop(None)
        yield chromium
        asyncio._set_running_loop(chromium.loop)
        chromium.close()


@pytest.fixture
def page(browser, live_server_url, transactional_db):
    """A new tab for the test, in the worker's one browser context. A blank tab stays
    open there between tests, so that a test's tab reuses its renderer process instead
    of starting one (a third of a second of CPU); cookies, local storage and granted
    permissions are cleared after each test, and the test's tabs closed."""
    asyncio._set_running_loop(browser.loop)
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    refused = []  # what the Content-Security-Policy blocked: a script or style to move to a file
    try:
        if not browser.contexts:  # the blank tab on the console's origin, whose storage it clears
            browser.new_context(base_url=live_server_url).new_page().goto("/static/css/wharf.css")
        context = browser.contexts[0]
        keeper = context.pages[0]
        page = context.new_page()
        page.set_default_timeout(15000)
        page.on("console", lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None)
        yield page
        for tab in context.pages[1:]:
            tab.close()
        context.clear_cookies()
        context.clear_permissions()
        keeper.evaluate("localStorage.clear()")
    finally:
        asyncio._set_running_loop(None)
        del os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"]
    assert refused == []


def client_of(user):
    """A Django test client logged in as `user` (`login` is the browser's)."""
    from django.test import Client

    client = Client()
    client.force_login(user)
    return client


def login(page, username, password=None):
    """Log `username` in: with a password, through the login page (the flow a person
    clicks through); without, by handing the browser a session cookie, two page loads
    fewer for a test about something else."""
    if password is None:
        from django.conf import settings

        session = client_of(get_user_model().objects.get(username=username)).cookies[settings.SESSION_COOKIE_NAME]
        page.context.add_cookies([{"name": session.key, "value": session.value, "domain": "127.0.0.1", "path": "/"}])
        return
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(lambda url: "/accounts/login/" not in url)

