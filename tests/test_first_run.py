"""The first hour of a new user: what setup says about the Docker it found, the pages
with no host yet, and the demo mode's throw-away daemons."""

import io
import os
import socket
import tempfile
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from console.audit.models import AuditEntry
from console.demo import demo_start, demo_stop
from console.hosts.management.commands import setup
from console.hosts.models import Host
from tests.conftest import add_host
from tests.harness import _alive


def _setup(monkeypatch, socket_path, docker_host=None):
    monkeypatch.setattr(setup, "LOCAL_SOCKET", Path(socket_path))
    if docker_host:
        monkeypatch.setenv("DOCKER_HOST", docker_host)
    else:
        monkeypatch.delenv("DOCKER_HOST", raising=False)
    out = io.StringIO()
    call_command("setup", stdout=out)
    return out.getvalue()


def test_setup_with_no_docker_says_so_and_how_to_add_a_host(db, monkeypatch, tmp_path):
    monkeypatch.setenv("WHARF_PORT", "8123")
    out = _setup(monkeypatch, tmp_path / "docker.sock")
    assert f"No Docker found: DOCKER_HOST is not set and {tmp_path / 'docker.sock'} does not exist." in out
    assert "http://127.0.0.1:8123/hosts/add/" in out
    assert "manage.py addhost NAME URL" in out and "scripts/run --demo" in out
    assert not Host.objects.exists()


def test_setup_registers_a_reachable_socket_and_says_which_docker(db, monkeypatch, docker_env):
    path = docker_env.daemon("unix-1").url.removeprefix("unix://")
    out = _setup(monkeypatch, path)
    assert f"Found the Docker socket {path}: registered as host 'local' (Docker 20.10" in out
    assert Host.objects.get(name="local").url == f"unix://{path}"
    assert _setup(monkeypatch, path) == "Docker hosts: local.\n"


def test_setup_says_when_a_socket_does_not_answer(db, monkeypatch, docker_env):
    dead = docker_env.dead_socket_url
    out = _setup(monkeypatch, "/nonexistent/docker.sock", docker_host=dead)
    assert f"DOCKER_HOST is {dead}: registered as host 'local', but it does not answer: " in out
    assert "connection refused" in out and "shows as down on the Hosts page" in out


def test_setup_explains_a_socket_this_user_may_not_open():
    """os.access looks at the real user: ask from a child process running as nobody."""
    folder = tempfile.mkdtemp(prefix="wharf-sock-")
    os.chmod(folder, 0o755)
    path = os.path.join(folder, "docker.sock")
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(path)
    os.chmod(path, 0o660)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: become nobody, report the hint, leave
        try:
            os.setgid(65534)
            os.setuid(65534)
            os.write(write, setup._socket_hint(f"unix://{path}").encode())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        hint = pipe.read()
    os.waitpid(pid, 0)
    listener.close()
    os.unlink(path)
    os.rmdir(folder)
    assert f"This user (uid 65534) may not open {path} (owner uid 0, group 0, mode srw-rw----)" in hint
    assert "--group-add 0" in hint
    assert setup._socket_hint(f"unix://{path}x") == ""  # absent: nothing to explain


@pytest.mark.parametrize("url", ["/containers/", "/images/", "/hosts/"])
def test_pages_with_no_host_point_to_adding_one(client, make_user, url):
    client.force_login(make_user("boss", role="Admin"))
    html = client.get(url).content.decode()
    assert "No Docker host to show yet." in html
    assert 'href="/hosts/add/">Add a host</a>' in html and "manage.py addhost" in html
    client.force_login(make_user("dev", role="Developer"))
    html = client.get(url).content.decode()
    assert "No Docker host to show yet." in html and "Ask an administrator" in html
    assert "/hosts/add/" not in html


def test_pages_with_hosts_show_no_notice(admin_client, docker_env):
    add_host(docker_env.daemon("unix-1"))
    for url in ("/containers/", "/images/", "/hosts/"):
        assert "No Docker host to show yet." not in admin_client.get(url).content.decode()


def test_demo_registers_hosts_with_containers_and_stop_removes_it_all(db):
    demo = demo_start()
    try:
        assert sorted(Host.objects.values_list("name", flat=True)) == ["demo-1", "demo-2"]
        assert [h.url for h in demo.hosts] == [d.url for d in demo.env.daemons]
        states = {}
        for daemon in demo.env.daemons:
            for c in demo.env.client(daemon.name).containers.list(all=True):
                states[c.name] = (c.status, c.attrs["State"]["ExitCode"], c.labels)
        assert states["web"] == ("running", 0, {"app": "web", "team": "a"})
        assert states["worker"][0] == states["ignores-sigterm"][0] == states["cache"][0] == "running"
        assert states["migrate"][:2] == ("exited", 0)
        assert states["crashed"][:2] == ("exited", 3)
        runs = AuditEntry.objects.filter(action="container.run", outcome="succeeded")
        assert runs.filter(actor_name="system (manage.py demo)").count() == len(states) == 6
    finally:
        demo_stop(demo)
    assert not Host.objects.exists()
    assert not os.path.exists(demo.env.root)
    assert not any(_alive(daemon.pid) for daemon in demo.env.daemons)


def test_demo_needs_root_and_says_so(db, monkeypatch):
    monkeypatch.setattr(os, "geteuid", lambda: 1000)  # a real non-root run needs another user
    with pytest.raises(CommandError, match="Demo mode is not available: demo mode starts its own dockerd, which needs root"):
        call_command("demo", stdout=io.StringIO())
