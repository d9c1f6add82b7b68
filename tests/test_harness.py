"""Checks of the test harness itself: real daemons, no Django, no database."""

from __future__ import annotations

import base64
import http.client
import os
import socket
import time

import docker
import docker.errors
import docker.tls
import pytest
import requests

from tests.harness import TEST_IMAGE, DockerEnv

pytestmark = []

DAEMONS = ["unix-1", "unix-2", "tls-1"]
STOP_SECONDS_MAX = 20


@pytest.fixture(scope="module")
def env():
    with DockerEnv() as e:
        print(f"\nDockerEnv up in {e.start_seconds:.2f}s at {e.root}")
        yield e


def _url_path(url: str) -> str:
    assert url.startswith("unix://")
    return url[len("unix://") :]


def _host_port(url: str) -> tuple[str, int]:
    assert url.startswith("tcp://")
    host, port = url[len("tcp://") :].rsplit(":", 1)
    return host, int(port)


def test_specs(env):
    assert [d.name for d in env.daemons] == DAEMONS
    root = env.root
    assert root.startswith("/tmp/wh") and os.path.isdir(root)
    for d in env.daemons:
        assert d.pid > 0 and os.path.exists(f"/proc/{d.pid}")
        if d.name.startswith("unix-"):
            sock = _url_path(d.url)
            assert sock.startswith(root + "/") and len(sock.encode()) < 108
            assert d.tls_ca is d.tls_cert is d.tls_key is None
        else:
            host, _ = _host_port(d.url)
            assert host == "127.0.0.1"
            assert "BEGIN CERTIFICATE" in d.tls_ca
            assert "BEGIN CERTIFICATE" in d.tls_cert
            assert "PRIVATE KEY" in d.tls_key
    assert "BEGIN CERTIFICATE" in env.wrong_ca and env.wrong_ca != env.daemons[2].tls_ca
    assert env.registry.address.startswith("127.0.0.1:")
    assert env.ssh.url.startswith("ssh://root@127.0.0.1:") and env.ssh.target == "unix-1"
    assert env.start_seconds < 30


@pytest.mark.parametrize("name", DAEMONS)
def test_daemon_pings_and_has_test_image(env, name):
    c = env.client(name)
    assert c.ping() is True
    image = c.images.get(TEST_IMAGE)
    assert TEST_IMAGE in image.tags
    assert image.attrs["Config"]["Cmd"] == ["/bin/sh"]
    assert f"wharf-daemon={name}" in c.info()["Labels"]


@pytest.mark.parametrize("name", ["unix-1", "tls-1"])
def test_run_echo(env, name):
    c = env.client(name)
    out = c.containers.run(
        TEST_IMAGE, ["echo", "hello", "world"], remove=True, network_disabled=True
    )
    assert out == b"hello world\n"


def _tls_client(env, ca, cert_and_key):
    # trust_env=False: else requests lets REQUESTS_CA_BUNDLE/CURL_CA_BUNDLE from the
    # environment replace the CA given to docker-py (this machine sets both).
    tls = docker.tls.TLSConfig(client_cert=cert_and_key, ca_cert=ca, verify=True)
    c = docker.DockerClient(base_url=env.daemon("tls-1").url, tls=tls, version="1.41")
    c.api.trust_env = False
    return c


def test_tls_without_client_cert_is_refused(env):
    ca, cert, key = env.tls_files("tls-1")
    control = _tls_client(env, ca, (cert, key))
    assert control.ping() is True
    control.close()
    c = _tls_client(env, ca, None)
    with pytest.raises(requests.RequestException) as info:
        c.ping()
    assert "certificate verify failed" not in str(info.value)
    c.close()


def test_tls_with_wrong_ca_is_rejected(env, tmp_path):
    _, cert, key = env.tls_files("tls-1")
    wrong = tmp_path / "wrong-ca.pem"
    wrong.write_text(env.wrong_ca)
    c = _tls_client(env, str(wrong), (cert, key))
    with pytest.raises(requests.exceptions.SSLError, match="certificate verify failed"):
        c.ping()
    c.close()


def test_registry_auth_login_push_pull(env):
    reg = env.registry
    host, port = reg.address.split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    conn.request("GET", "/v2/")
    r = conn.getresponse()
    r.read()
    assert r.status == 401
    assert r.getheader("WWW-Authenticate", "").startswith("Basic")
    token = base64.b64encode(f"{reg.username}:{reg.password}".encode()).decode()
    conn.request("GET", "/v2/", headers={"Authorization": f"Basic {token}"})
    r = conn.getresponse()
    r.read()
    assert r.status == 200
    conn.close()

    c = env.client("unix-1")
    with pytest.raises(docker.errors.APIError):
        c.login(username=reg.username, password="wrong", registry=reg.address, reauth=True)
    result = c.login(username=reg.username, password=reg.password, registry=reg.address)
    assert "Succeeded" in result.get("Status", "")

    repo = f"{reg.address}/wharf/busybox"
    auth = {"username": reg.username, "password": reg.password}
    assert c.images.get(TEST_IMAGE).tag(repo, "1")
    events = list(c.images.push(repo, tag="1", auth_config=auth, stream=True, decode=True))
    errors = [e for e in events if "error" in e or "errorDetail" in e]
    assert not errors, errors
    assert any((e.get("aux") or {}).get("Digest", "").startswith("sha256:") for e in events), events

    c2 = env.client("unix-2")
    pulled = c2.images.pull(repo, tag="1", auth_config=auth)
    assert f"{repo}:1" in pulled.tags
    c2.images.remove(f"{repo}:1")
    c.images.remove(f"{repo}:1")


def test_ssh_client_reaches_target_daemon(env, monkeypatch):
    monkeypatch.setenv("HOME", env.ssh.home)
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
    c = docker.DockerClient(base_url=env.ssh.url, use_ssh_client=False, timeout=30)
    try:
        assert c.version()["ApiVersion"]
        assert f"wharf-daemon={env.ssh.target}" in c.info()["Labels"]
        out = c.containers.run(TEST_IMAGE, ["echo", "over", "ssh"], remove=True,
                               network_disabled=True)
        assert out == b"over ssh\n"
    finally:
        c.close()


def test_failure_addresses(env):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    path = _url_path(env.dead_socket_url)
    assert os.path.exists(path)
    with pytest.raises(ConnectionRefusedError):
        s.connect(path)
    s.close()

    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(_host_port(env.closed_port_url), timeout=5).close()

    # The blackhole accepts the TCP connection but never answers.
    s = socket.create_connection(_host_port(env.blackhole_url), timeout=5)
    try:
        s.sendall(b"GET /_ping HTTP/1.1\r\nHost: x\r\n\r\n")
        s.settimeout(0.5)
        with pytest.raises(TimeoutError):
            s.recv(1)
    finally:
        s.close()


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


def test_stop_leaves_nothing_behind(monkeypatch):
    """A second, small environment with a running container and an open ssh
    session: stop() must end every process of ours and remove the folder."""
    e = DockerEnv(unix_daemons=1, tls_daemons=1).start()
    root = e.root
    try:
        c = e.client("unix-1")
        sleeper = c.containers.run(TEST_IMAGE, ["sleep", "1000"], detach=True,
                                   network_disabled=True)
        sleeper.reload()
        container_pid = sleeper.attrs["State"]["Pid"]
        assert _alive(container_pid)

        monkeypatch.setenv("HOME", e.ssh.home)
        monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
        over_ssh = docker.DockerClient(base_url=e.ssh.url, use_ssh_client=False, timeout=30)
        assert over_ssh.ping()  # keeps an ssh session + dial-stdio process open

        ours = e._our_processes()
        pids = {d.pid for d in e.daemons} | {e.registry.pid, e.ssh.pid, container_pid}
        assert pids <= set(ours), (pids, ours)
        cmdlines = {}
        for pid in ours:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmdlines[pid] = f.read().replace(b"\0", b" ").decode()
        assert any(v.startswith("containerd ") for v in cmdlines.values()), cmdlines
        assert any("dial-stdio" in v for v in cmdlines.values()), cmdlines
    except BaseException:
        e.stop()
        raise

    t0 = time.monotonic()
    e.stop()
    took = time.monotonic() - t0
    print(f"\nstop() took {took:.2f}s")
    e.stop()  # idempotent
    assert not e.stop_errors
    assert took < STOP_SECONDS_MAX

    assert not [pid for pid in ours if _alive(pid)], cmdlines
    needle = (root + "/").encode()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    assert needle not in f.read(), entry
            except OSError:
                pass
    with open("/proc/self/mountinfo") as f:
        assert root not in f.read()
    assert not os.path.exists(root)
    with pytest.raises((docker.errors.DockerException, requests.RequestException, OSError)):
        over_ssh.ping()
    over_ssh.close()
