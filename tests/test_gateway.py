"""The gateway against the real test daemons: connecting, and failing clearly."""

import time

import pytest
from django.db import connection

from console import gateway
from console.errors import HostTLSError, HostUnreachable
from console.hosts.models import Host
from tests.conftest import add_host


def unsaved(name, url, pk, **tls):
    return Host(pk=pk, name=name, url=url, **tls)


@pytest.mark.parametrize("name", ["unix-1", "unix-2", "tls-1"])
def test_connects_and_reads_details(hosts, name):
    details = gateway.host_details(hosts[name])
    assert details["version"]["ApiVersion"]
    assert details["info"]["Images"] >= 1


def test_statuses_of_all_hosts(hosts):
    statuses = gateway.host_statuses(list(hosts.values()))
    assert all(s.up and s.version for s in statuses.values()), statuses


def test_wrong_ca_is_refused_with_translated_message(docker_env, db):
    tls = docker_env.daemon("tls-1")
    host = unsaved("prod-1", tls.url, 9001, tls_ca=docker_env.wrong_ca, tls_cert=tls.tls_cert, tls_key=tls.tls_key)
    with pytest.raises(HostTLSError, match="TLS certificate of host prod-1 is not signed by the configured CA"):
        gateway.test_connection(host)


def test_missing_client_certificate_is_refused(docker_env, db):
    tls = docker_env.daemon("tls-1")
    host = unsaved("prod-2", tls.url, 9002, tls_ca=tls.tls_ca)
    with pytest.raises(HostTLSError, match="prod-2 refused our TLS client certificate"):
        gateway.test_connection(host)


def test_plain_tcp_to_a_tls_daemon_is_explained(docker_env, db):
    host = unsaved("prod-3", docker_env.daemon("tls-1").url, 9003)
    with pytest.raises(HostTLSError, match="prod-3 requires TLS"):
        gateway.test_connection(host)


@pytest.mark.parametrize(
    "attr, message",
    [
        ("dead_socket_url", "build-2 is unreachable: connection refused"),
        ("closed_port_url", "build-2 is unreachable: connection refused"),
        ("blackhole_url", "build-2 is unreachable: no answer in time"),
    ],
)
def test_dead_hosts_are_reported_within_the_timeout(docker_env, db, settings, attr, message):
    settings.HOST_STATUS_TIMEOUT = 1.5
    host = unsaved("build-2", getattr(docker_env, attr), 9100)
    started = time.monotonic()
    with pytest.raises(HostUnreachable, match=message):
        gateway.test_connection(host)
    assert time.monotonic() - started < settings.HOST_STATUS_TIMEOUT + 2


def test_missing_socket_file(db):
    host = unsaved("build-3", "unix:///tmp/wharf-no-such-dir/docker.sock", 9101)
    with pytest.raises(HostUnreachable, match="build-3 is unreachable: its socket does not exist"):
        gateway.test_connection(host)


def test_one_dead_host_never_delays_the_others(docker_env, hosts, settings):
    settings.HOST_STATUS_TIMEOUT = 1.5
    dead = Host.objects.create(name="blackhole", url=docker_env.blackhole_url)
    started = time.monotonic()
    statuses = gateway.host_statuses([*hosts.values(), dead])
    elapsed = time.monotonic() - started
    assert not statuses[dead.pk].up and "blackhole is unreachable: no answer" in statuses[dead.pk].reason
    assert all(statuses[h.pk].up for h in hosts.values())
    assert elapsed < settings.HOST_STATUS_TIMEOUT + 2


def test_tls_key_is_not_stored_in_plain_text(docker_env, hosts):
    key = docker_env.daemon("tls-1").tls_key
    with connection.cursor() as cursor:
        cursor.execute("SELECT tls_key, tls_cert, tls_ca FROM hosts_host WHERE name = 'tls-1'")
        stored = cursor.fetchone()
    body = key.splitlines()[1]
    assert all(body not in value and "BEGIN" not in value for value in stored)
    assert Host.objects.get(name="tls-1").tls_key == key


def test_tls_files_exist_only_with_0600_while_the_client_lives(hosts):
    import os

    gateway.host_details(hosts["tls-1"])
    connection_ = gateway._connections[(hosts["tls-1"].pk, False, False)][1]
    files = [os.path.join(connection_.folder, f) for f in os.listdir(connection_.folder)]
    assert files and all(os.stat(f).st_mode & 0o777 == 0o600 for f in files)
    gateway.forget(hosts["tls-1"])
    assert not os.path.exists(connection_.folder)


def test_ssh_host(docker_env, db, monkeypatch):
    monkeypatch.setenv("HOME", docker_env.ssh.home)
    host = add_host(type("Spec", (), {"name": "over-ssh", "url": docker_env.ssh.url,
                                      "tls_ca": None, "tls_cert": None, "tls_key": None})())  # fmt: skip
    try:
        details = gateway.host_details(host)
        assert details["info"]["Images"] >= 1
    finally:
        gateway.forget(host)
