"""The only code that talks to Docker.

One client per host (and a short-timeout probe client for status checks), TLS
material written to 0600 files only for a client's lifetime, and every Docker or
connection error translated into a `console.errors` exception a person can act on.
Callers pass any object with `pk`, `name`, `url`, `tls_ca`, `tls_cert`, `tls_key`.
"""

import atexit
import errno
import hashlib
import logging
import os
import shutil
import socket
import ssl
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import wait as wait_futures
from contextlib import contextmanager
from dataclasses import dataclass, field

import docker
import docker.errors
import requests.exceptions
from django.conf import settings

from console.errors import (
    DockerConflict,
    DockerError,
    DockerNotFound,
    HostConfigError,
    HostTLSError,
    HostUnreachable,
    WharfError,
)

log = logging.getLogger("wharf.gateway")

SCHEMES = ("unix://", "tcp://", "ssh://")
_status_pool = ThreadPoolExecutor(max_workers=32, thread_name_prefix="host-status")


# --- clients -------------------------------------------------------------------


class _Connection:
    """A docker-py client plus the private folder holding its TLS files."""

    def __init__(self, host, timeout):
        self.folder = None
        tls = None
        if host.tls_ca or host.tls_cert or host.tls_key:
            tls = self._tls_config(host)
        try:
            self.client = docker.DockerClient(
                base_url=_docker_url(host.url, tls),
                tls=tls,
                timeout=timeout,
                version=settings.DOCKER_API_VERSION,
                max_pool_size=32,
                use_ssh_client=False,
            )
        except docker.errors.DockerException as exc:
            self.close()
            raise HostConfigError(f"host {host.name} is misconfigured: {exc}") from None

    def _tls_config(self, host):
        self.folder = tempfile.mkdtemp(prefix="wharf-tls-")  # mode 0700
        paths = {}
        for part in ("ca", "cert", "key"):
            pem = getattr(host, f"tls_{part}")
            if pem:
                paths[part] = os.path.join(self.folder, f"{part}.pem")
                fd = os.open(paths[part], os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "w") as f:
                    f.write(pem)
        if ("cert" in paths) != ("key" in paths):
            self.close()
            raise HostConfigError(
                f"host {host.name}: a client certificate and its key go together"
            )
        client_cert = (paths["cert"], paths["key"]) if "cert" in paths else None
        try:
            return docker.tls.TLSConfig(
                client_cert=client_cert, ca_cert=paths.get("ca"), verify=paths.get("ca") or True
            )
        except docker.errors.TLSParameterError as exc:
            self.close()
            raise HostConfigError(f"host {host.name}: {exc}") from None

    def close(self):
        client = getattr(self, "client", None)
        if client is not None:
            client.close()
        if self.folder:
            shutil.rmtree(self.folder, ignore_errors=True)


def _docker_url(url, tls):
    # docker-py wants https:// for TLS over TCP; the console stores tcp:// URLs.
    if tls and url.startswith("tcp://"):
        return "https://" + url.removeprefix("tcp://")
    return url


_connections: dict = {}
_connections_lock = threading.Lock()


def _fingerprint(host):
    material = "\0".join([host.url, host.tls_ca or "", host.tls_cert or "", host.tls_key or ""])
    return hashlib.sha256(material.encode()).hexdigest()


def _client(host, probe=False):
    key = (host.pk, probe)
    fingerprint = _fingerprint(host)
    with _connections_lock:
        cached = _connections.get(key)
        if cached and cached[0] == fingerprint:
            return cached[1].client
        timeout = settings.HOST_STATUS_TIMEOUT if probe else settings.DOCKER_TIMEOUT
        connection = _Connection(host, timeout)
        if cached:
            cached[1].close()
        _connections[key] = (fingerprint, connection)
        return connection.client


def forget(host):
    """Close the clients of a host that was changed or removed."""
    with _connections_lock:
        for key in [k for k in _connections if k[0] == host.pk]:
            _connections.pop(key)[1].close()


@atexit.register
def _close_all():
    with _connections_lock:
        for _, connection in _connections.values():
            connection.close()
        _connections.clear()


@contextmanager
def translated(host):
    """Turn docker-py, requests, ssl and paramiko errors into console errors."""
    try:
        yield
    except WharfError:
        raise
    except docker.errors.NotFound as exc:
        raise DockerNotFound(_explanation(exc)) from None
    except docker.errors.APIError as exc:
        if exc.status_code == 409:
            raise DockerConflict(_explanation(exc)) from None
        raise DockerError(f"host {host.name}: {_explanation(exc)}") from None
    except Exception as exc:  # noqa: BLE001 - every other failure is about reaching the host
        raise _connection_error(host, exc) from None


def _explanation(exc):
    text = exc.explanation or str(exc)
    if isinstance(text, bytes):
        text = text.decode(errors="replace")
    return str(text).strip()


def _causes(exc):
    seen = []
    while exc is not None and exc not in seen:
        seen.append(exc)
        nested = getattr(exc, "reason", None)
        if isinstance(nested, BaseException) and nested not in seen:
            seen.append(nested)
        exc = exc.__cause__ or exc.__context__ or (exc.args[0] if exc.args and isinstance(exc.args[0], BaseException) else None)
    return seen


def _connection_error(host, exc):
    causes = _causes(exc)
    text = " ".join(str(c) for c in causes).lower()
    name = host.name
    if any(isinstance(c, ssl.SSLCertVerificationError) for c in causes) or (
        "certificate verify failed" in text
    ):
        if "hostname mismatch" in text or "ip address mismatch" in text:
            return HostTLSError(f"TLS certificate of host {name} does not match its address")
        return HostTLSError(
            f"TLS certificate of host {name} is not signed by the configured CA"
        )
    if "certificate required" in text or "bad certificate" in text or "unknown ca" in text:
        return HostTLSError(
            f"host {name} refused our TLS client certificate: configure a client "
            "certificate and key signed by the CA the daemon trusts"
        )
    if any(isinstance(c, (ssl.SSLError)) for c in causes) or "ssl" in text:
        return HostTLSError(f"TLS with host {name} failed: {causes[-1]}")
    if any(isinstance(c, (requests.exceptions.Timeout, socket.timeout, TimeoutError)) for c in causes) or "timed out" in text:
        return HostUnreachable(f"host {name} did not answer in time")
    for c in causes:
        if isinstance(c, FileNotFoundError) or getattr(c, "errno", None) == errno.ENOENT:
            return HostUnreachable(f"host {name} is unreachable: its socket does not exist")
        if isinstance(c, ConnectionRefusedError) or getattr(c, "errno", None) == errno.ECONNREFUSED:
            return HostUnreachable(f"host {name} is unreachable: connection refused")
        if isinstance(c, PermissionError):
            return HostUnreachable(f"host {name} is unreachable: permission denied on its socket")
    if "authentication" in text or "not a valid rsa" in text or "ssh" in type(exc).__module__:
        return HostUnreachable(f"SSH to host {name} failed: {causes[-1]}")
    if "connection refused" in text:
        return HostUnreachable(f"host {name} is unreachable: connection refused")
    if "no such file" in text:
        return HostUnreachable(f"host {name} is unreachable: its socket does not exist")
    log.info("untranslated error from host %s: %r", name, exc)
    return HostUnreachable(f"host {name} is unreachable: {causes[-1]}")


def call(host, fn, probe=False):
    """Run `fn(client)` against a host with errors translated."""
    with translated(host):
        return fn(_client(host, probe=probe))


# --- hosts ---------------------------------------------------------------------


@dataclass
class HostStatus:
    up: bool
    reason: str = ""
    version: str = ""
    api_version: str = ""
    running: int = 0
    paused: int = 0
    stopped: int = 0
    images: int = 0
    seconds: float = 0.0
    extra: dict = field(default_factory=dict)


def _status(host):
    started = time.monotonic()
    try:
        info = call(host, lambda c: c.info(), probe=True)
    except WharfError as exc:
        return HostStatus(up=False, reason=str(exc), seconds=time.monotonic() - started)
    return HostStatus(
        up=True,
        version=info.get("ServerVersion", ""),
        running=info.get("ContainersRunning", 0),
        paused=info.get("ContainersPaused", 0),
        stopped=info.get("ContainersStopped", 0),
        images=info.get("Images", 0),
        seconds=time.monotonic() - started,
    )


def host_statuses(hosts):
    """Status of every host, gathered in parallel; none waits past the status timeout."""
    futures = {host.pk: _status_pool.submit(_status, host) for host in hosts}
    deadline = settings.HOST_STATUS_TIMEOUT + 0.25
    wait_futures(futures.values(), timeout=deadline)
    late = HostStatus(up=False, reason=f"unreachable: no answer within {settings.HOST_STATUS_TIMEOUT:g} s")
    return {pk: f.result() if f.done() else late for pk, f in futures.items()}


def host_status(host):
    return host_statuses([host])[host.pk]


def host_details(host):
    """What `docker version` and `docker info` show."""
    return call(host, lambda c: {"version": c.version(), "info": c.info()})


def test_connection(host):
    """Connect with a fresh client (the host may be unsaved); the engine version or an error."""
    connection = None
    try:
        with translated(host):
            connection = _Connection(host, settings.HOST_STATUS_TIMEOUT)
            return connection.client.version()
    finally:
        if connection:
            connection.close()


# --- containers ----------------------------------------------------------------


def container_labels(host, container_id):
    """Labels of one container (authorization of label-scoped grants needs them)."""

    def labels(client):
        attrs = client.api.inspect_container(container_id)
        return (attrs.get("Config") or {}).get("Labels") or {}

    return call(host, labels)
