"""Demo mode: try the console with no Docker of your own (`scripts/run --demo`).

Starts throw-away Docker daemons the way the test suite does (`tests.harness.DockerEnv`:
each in its own temporary folder, containers on loopback only, an image made from the
machine's static busybox, nothing pulled), registers them as hosts demo-1 and demo-2
and runs a few containers on them, all through the console's own services, so the audit
trail shows the set-up too. `demo_stop` removes the hosts and stops the daemons.

Needs root and Debian's docker.io and busybox-static.
"""

import os
import shutil
from dataclasses import dataclass, field

from console.actions import Actor
from console.containers.run_services import DETACHED, ONESHOT, RunSpec, container_run
from console.errors import WharfError
from console.hosts import services as hosts
from console.hosts.models import Host
from tests.harness import TEST_IMAGE, DockerEnv, HarnessError  # the test suite's daemons, reused

APT_LINE = "apt-get install -y docker.io busybox-static"


def _spec(name, command, labels, environment=()):
    return RunSpec(image=TEST_IMAGE, name=name, command=["sh", "-c", command], labels=labels,
                   environment=list(environment), network="none")  # fmt: skip


# (host, mode, container): running, stopped and failed ones, with labels to filter by.
CONTAINERS = (
    ("demo-1", DETACHED, _spec("web", "httpd -f -v -p 127.0.0.1:8080 -h /etc", {"app": "web", "team": "a"})),
    ("demo-1", DETACHED, _spec(
        "worker", 'i=0; while true; do i=$((i+1)); echo "job $i done"; sleep 5; done',
        {"app": "worker", "team": "a"},
    )),  # fmt: skip
    # PID 1 of a container ignores SIGTERM unless it handles it: Stop waits its timeout.
    ("demo-1", DETACHED, _spec("ignores-sigterm", "exec sleep 100000", {"team": "b"})),
    ("demo-2", DETACHED, _spec(
        "cache", "exec sleep 100000", {"app": "cache", "team": "b"},
        environment=["CACHE_SIZE=64m", "CACHE_PASSWORD=not-a-real-secret"],
    )),  # fmt: skip
    ("demo-2", ONESHOT, _spec("migrate", "echo 'migrated 3 tables'", {"app": "db", "team": "b"})),
    ("demo-2", ONESHOT, _spec("crashed", "echo 'cannot reach the database' >&2; exit 3", {"app": "db"})),
)


class DemoUnavailable(WharfError):
    """Demo mode cannot start on this machine (not root, no dockerd...)."""


@dataclass
class Demo:
    env: DockerEnv
    hosts: list = field(default_factory=list)
    containers: list = field(default_factory=list)  # (host name, container name)


def demo_start():
    """Start the daemons, register them as hosts and run the demo containers."""
    if os.geteuid() != 0:
        raise DemoUnavailable("demo mode starts its own dockerd, which needs root: run it as root")
    if not shutil.which("dockerd", path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin"):
        raise DemoUnavailable(f"demo mode needs dockerd: as root, {APT_LINE}")
    env = DockerEnv(unix_daemons=2, tls_daemons=0, registry=False, ssh=False)
    try:
        env.start()
    except HarnessError as exc:
        raise DemoUnavailable(f"the demo daemons did not start: {exc}") from None
    demo = Demo(env=env)
    try:
        actor = Actor.for_command("demo")
        names = [f"demo-{i}" for i in range(1, len(env.daemons) + 1)]
        demo.hosts = [_register(actor, name, spec.url) for name, spec in zip(names, env.daemons, strict=True)]
        by_name = {host.name: host for host in demo.hosts}
        for host_name, mode, spec in CONTAINERS:
            container_run(actor=actor, host=by_name[host_name], spec=spec, mode=mode)
            demo.containers.append((host_name, spec.name))
    except BaseException:
        demo_stop(demo)
        raise
    return demo


def _register(actor, name, url):
    """A host left by a demo that did not stop cleanly is pointed at the new daemon."""
    host = Host.objects.filter(name=name).first()
    fields = {"url": url, "description": "demo: a throw-away local daemon", "enabled": True}
    if host is None:
        return hosts.host_create(actor=actor, name=name, **fields)
    return hosts.host_update(actor=actor, host=host, **fields)


def demo_stop(demo):
    """Remove the demo hosts and stop the daemons (their containers go with them)."""
    actor = Actor.for_command("demo")
    try:
        for host in demo.hosts:
            hosts.host_delete(actor=actor, host=host)
    finally:
        demo.env.stop()
