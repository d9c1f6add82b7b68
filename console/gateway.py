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
import re
import select
import shutil
import socket
import ssl
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import wait as wait_futures
from contextlib import contextmanager
from dataclasses import dataclass, field

import docker
import docker.auth
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
    RegistryLoginNeeded,
    WharfError,
)

log = logging.getLogger("wharf.gateway")

SCHEMES = ("unix://", "tcp://", "ssh://")
STREAM_POOL = 1024  # connections kept per host for streams (docker-py opens more at need)
_pool = ThreadPoolExecutor(max_workers=32, thread_name_prefix="hosts-at-once")


# --- clients -------------------------------------------------------------------


class _Connection:
    """A docker-py client plus the private folder holding its TLS files."""

    def __init__(self, host, timeout, pool_size=32):
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
                max_pool_size=pool_size,
                use_ssh_client=False,
            )
        except docker.errors.DockerException as exc:
            self.close()
            raise HostConfigError(f"host {host.name} is misconfigured: {exc}") from None
        # REQUESTS_CA_BUNDLE and proxy variables must not override the host's own CA.
        self.client.api.trust_env = False

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


def _client(host, probe=False, streams=False):
    """The host's client: `probe` with the short status timeout, `streams` for long
    streams (a pool of its own, so that streams never starve page requests)."""
    key = (host.pk, probe, streams)
    fingerprint = _fingerprint(host)
    with _connections_lock:
        cached = _connections.get(key)
        if cached and cached[0] == fingerprint:
            return cached[1].client
        timeout = settings.HOST_STATUS_TIMEOUT if probe else settings.DOCKER_TIMEOUT
        connection = _Connection(host, timeout, STREAM_POOL if streams else 32)
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
        if "HTTP request to an HTTPS server" in _explanation(exc):
            raise HostTLSError(
                f"host {host.name} requires TLS: add its CA, a client certificate and key"
            ) from None
        raise DockerError(f"host {host.name}: {_explanation(exc)}") from None
    except Exception as exc:  # noqa: BLE001 - every other failure is about reaching the host
        raise _connection_error(host, exc) from None


def _explanation(exc):
    text = exc.explanation or str(exc)
    if isinstance(text, bytes):
        text = text.decode(errors="replace")
    return without_storage_paths(str(text).strip())


# A path in the daemon's storage: .../overlay2/<64 hex>/merged/etc/x, .../containers/<id>/...,
# .../volumes/<name>/_data/x. Messages keep what the path is inside the container, and
# nothing of the host's layout (its data root says where Docker and its secrets live).
_STORAGE_PATH = re.compile(
    r"/[^\s\"'(),:]*?(?:/[0-9a-f]{64}(?:-init)?(?P<layer>/(?:merged|diff|rootfs|mnt))?"
    r"|(?P<volume>/volumes/[^/\s\"']+/_data))(?P<inside>/[^\s\"'(),:]*)?"
)


def without_storage_paths(text):
    def inside(match):
        if match["layer"] or match["volume"]:
            return match["inside"] or "/"
        return "(a folder of the Docker daemon)"

    return _STORAGE_PATH.sub(inside, text)


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
    if any(s in text for s in ("certificate required", "certificate_required", "bad certificate",
                               "bad_certificate", "unknown ca", "unknown_ca")):
        return HostTLSError(
            f"host {name} refused our TLS client certificate: configure a client "
            "certificate and key signed by the CA the daemon trusts"
        )
    if any(isinstance(c, (ssl.SSLError)) for c in causes) or "ssl" in text:
        return HostTLSError(f"TLS with host {name} failed: {causes[-1]}")
    if any(isinstance(c, (requests.exceptions.Timeout, socket.timeout, TimeoutError)) for c in causes) or "timed out" in text:
        return HostUnreachable(f"host {name} is unreachable: no answer in time")
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
    running: int = 0
    paused: int = 0
    stopped: int = 0
    images: int = 0

    @property
    def counts(self):
        return self.running, self.paused, self.stopped, self.images


def _status(host):
    return call(host, lambda c: c.info(), probe=True)


def gather(hosts, fn):
    """`fn(host)` for every host at once: {host pk: its result, or the WharfError it
    raised}. A host that has not answered within the status timeout gets an error and
    never holds up the others."""

    def attempt(host):
        try:
            return fn(host)
        except WharfError as exc:
            return exc

    futures = {host.pk: (host, _pool.submit(attempt, host)) for host in hosts}
    timeout = settings.HOST_STATUS_TIMEOUT
    wait_futures([f for _, f in futures.values()], timeout=timeout + 0.25)
    return {
        pk: f.result() if f.done() else HostUnreachable(
            f"host {host.name} is unreachable: no answer within {timeout:g} s"
        )
        for pk, (host, f) in futures.items()
    }  # fmt: skip


def host_statuses(hosts):
    """Status of every host, gathered in parallel (see `gather`)."""
    statuses = {}
    for pk, result in gather(hosts, _status).items():
        if isinstance(result, WharfError):
            statuses[pk] = HostStatus(up=False, reason=str(result))
            continue
        statuses[pk] = HostStatus(
            up=True, version=result.get("ServerVersion", ""), running=result.get("ContainersRunning", 0),
            paused=result.get("ContainersPaused", 0), stopped=result.get("ContainersStopped", 0),
            images=result.get("Images", 0),
        )  # fmt: skip
    return statuses


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

    return _container_call(host, container_id, labels)


# --- containers: lists and lifecycle ---------------------------------------------



@dataclass
class ContainerListing:
    """One host's answer to a container list: the Engine's summaries, or why not."""

    containers: list = field(default_factory=list)
    error: str = ""


def containers_of(host, *, stopped=False, filters=None, probe=False):
    """`docker ps` (`-a` with `stopped`): the Engine's container summaries, as they come."""
    return call(host, lambda c: c.api.containers(all=stopped, filters=filters or None), probe=probe)


def containers_of_hosts(queries):
    """Container lists of many hosts at once (see `gather`): `queries` maps a host to
    the keyword arguments of `containers_of`."""
    kwargs = {host.pk: kw for host, kw in queries.items()}
    results = gather(queries, lambda host: containers_of(host, probe=True, **kwargs[host.pk]))
    return {
        pk: ContainerListing(error=str(r)) if isinstance(r, WharfError) else ContainerListing(r)
        for pk, r in results.items()
    }


def images_of(host, *, intermediate=False, filters=None):
    """`docker images` (`-a` with `intermediate`): the Engine's image summaries."""
    return call(host, lambda c: c.api.images(all=intermediate, filters=filters or None), probe=True)


# A container's id, id prefix or name. Anything else never reaches Docker: "." would
# make /containers/./json the list of every container.
CONTAINER_REF = re.compile(r"/?[a-zA-Z0-9][a-zA-Z0-9_.-]{0,254}")


def _check_ref(host, ref):
    if not isinstance(ref, str) or not CONTAINER_REF.fullmatch(ref):
        raise DockerNotFound(f"there is no container {ref} on host {host.name}")


def _container_call(host, container, fn, name=""):
    """`call` for one container, with Docker's container errors said plainly.
    `name` is how messages call the container (its id is what Docker is given)."""
    _check_ref(host, container)
    name = name or container
    try:
        return call(host, fn)
    except DockerNotFound:
        raise DockerNotFound(f"container {name} no longer exists on host {host.name}") from None
    except (DockerConflict, DockerError) as exc:
        raise _container_error(host, name, exc) from None


def _container_error(host, name, exc):
    text = str(exc)
    if "cannot remove a running container" in text:
        return DockerConflict(f"container {name} is running: stop it first or use force")
    if "is already paused" in text:
        return DockerConflict(f"container {name} is already paused")
    if "is not paused" in text:
        return DockerConflict(f"container {name} is not paused")
    if "is not running" in text:
        return DockerConflict(f"container {name} is not running on host {host.name}")
    if "is already in use by container" in text:
        taken = text.split('"', 2)[1].lstrip("/") if text.count('"') >= 2 else "that name"
        return DockerConflict(f"the name {taken} is already in use on host {host.name}")
    if "Invalid signal" in text:
        return WharfError(f"host {host.name} does not know the signal {text.rpartition('Invalid signal: ')[2]}")
    return exc


def container_inspect(host, container):
    """`docker inspect`: the full description of one container."""
    return _container_call(host, container, lambda c: c.api.inspect_container(container))


def container_start(host, container, name=""):
    _container_call(host, container, lambda c: c.api.start(container), name)


def container_stop(host, container, timeout, name=""):
    _container_call(host, container, lambda c: c.api.stop(container, timeout=timeout), name)


def container_restart(host, container, timeout, name=""):
    _container_call(host, container, lambda c: c.api.restart(container, timeout=timeout), name)


def container_kill(host, container, signal, name=""):
    _container_call(host, container, lambda c: c.api.kill(container, signal=signal), name)


def container_pause(host, container, name=""):
    _container_call(host, container, lambda c: c.api.pause(container), name)


def container_unpause(host, container, name=""):
    _container_call(host, container, lambda c: c.api.unpause(container), name)


def container_rename(host, container, new_name, name=""):
    _container_call(host, container, lambda c: c.api.rename(container, new_name), name)


def container_remove(host, container, *, force=False, volumes=False, name=""):
    remove = lambda c: c.api.remove_container(container, v=volumes, force=force)  # noqa: E731
    _container_call(host, container, remove, name)


def container_remove_link(host, link):
    """`docker rm -l /container/alias`: removes the link, not the container."""
    try:
        call(host, lambda c: c.api.remove_container(link, link=True))
    except DockerNotFound:
        raise DockerNotFound(f"there is no link {link} on host {host.name}") from None


def container_top(host, container, ps_args, name=""):
    """`docker top`: {"Titles": [...], "Processes": [[...], ...]}."""
    try:
        return _container_call(host, container, lambda c: c.api.top(container, ps_args=ps_args), name)
    except DockerError as exc:  # ps itself refused the options
        if "ps:" not in str(exc) and "exit status" not in str(exc):
            raise
        raise WharfError(f"ps rejected the options {ps_args!r}: {exc}") from None


def container_diff(host, container, name=""):
    """`docker diff`: [{"Path": ..., "Kind": 0 changed | 1 added | 2 deleted}, ...]."""
    return _container_call(host, container, lambda c: c.api.diff(container) or [], name)


# --- containers: run, commit, files ---

STREAM_CHUNK = 1024 * 1024  # bytes per read from Docker byte streams
STREAM_BLOCK = 256 * 1024  # bytes per block handed on from them


def image_references(host):
    """Every repo:tag on a host, sorted (suggestions for the run form)."""
    images = call(host, lambda c: c.api.images())
    return sorted({t for i in images for t in i.get("RepoTags") or () if t != "<none>:<none>"})


def run_create(host, spec):
    """Create (not start) a container from a run spec (see containers.run_services.RunSpec).
    The image must be on the host already: nothing is pulled."""

    def create(client):
        api = client.api
        ports = {}  # "80/tcp" -> [(host ip, host port)]; empty ip: every address, no port: any
        for p in spec.ports:
            ports.setdefault(f"{p.container_port}/{p.protocol}", []).append((p.host_ip, p.host_port))
        restart = {"Name": spec.restart, "MaximumRetryCount": spec.restart_retries} if spec.restart else None
        host_config = api.create_host_config(
            binds=[v.bind() for v in spec.volumes if v.source] or None,
            port_bindings=ports or None,
            network_mode=spec.network or None,
            restart_policy=restart,
            mem_limit=spec.memory or None,
            nano_cpus=int(spec.cpus * 1e9) if spec.cpus else None,
            auto_remove=spec.auto_remove,
            privileged=spec.privileged,
            pid_mode="host" if spec.pid_host else None,
            ipc_mode="host" if spec.ipc_host else None,
            cap_add=spec.cap_add or None,
            devices=spec.devices or None,
        )
        return api.create_container(
            spec.image, command=spec.command, entrypoint=spec.entrypoint, name=spec.name or None,
            environment=spec.environment or None, labels=spec.labels or None,
            ports=[(p.container_port, p.protocol) for p in spec.ports] or None,
            volumes=[v.target for v in spec.volumes if not v.source] or None,  # anonymous ones
            working_dir=spec.working_dir or None, user=spec.user or None,
            tty=spec.tty, stdin_open=spec.stdin, host_config=host_config,
        )["Id"]  # fmt: skip

    try:
        return call(host, create)
    except DockerNotFound as exc:
        if "image" not in str(exc).lower():
            raise
        raise DockerNotFound(f"image {spec.image} is not on host {host.name}: pull it first", field="image") from None
    except DockerConflict as exc:
        if "is already in use" not in str(exc):
            raise
        raise DockerConflict(f"the name {spec.name} is already in use on host {host.name}", field="name") from None
    except DockerError as exc:
        text = str(exc)
        for field, clue in (("image", "reference format"), ("cpus", "CPUs"), ("memory", "memory")):
            if clue in text:
                raise DockerError(text, field=field) from None
        raise


def run_start(host, container_id):
    try:
        call(host, lambda c: c.api.start(container_id))
    except DockerError as exc:
        text = str(exc)
        if "port is already allocated" in text or "address already in use" in text:
            raise DockerConflict(
                f"a published port is already in use on host {host.name}: {text}", field="ports"
            ) from None
        raise


def run_wait(host, container_id, timeout):
    """The exit code (and Docker's error, if any), or None if still running after `timeout` s."""

    def wait(client):
        try:
            result = client.api.wait(container_id, timeout=timeout)
        except requests.exceptions.RequestException as exc:
            if isinstance(exc, requests.exceptions.Timeout) or "timed out" in str(exc):
                return None
            raise
        return result.get("StatusCode"), ((result.get("Error") or {}).get("Message") or "")

    return call(host, wait)


def run_output(host, container_id, limit):
    """The last `limit` bytes of a container's output (stdout and stderr, interleaved),
    and whether earlier output was cut."""

    def read(client):
        kept, size, cut = [], 0, False
        for chunk in client.api.logs(container_id, stream=True, follow=False):
            kept.append(chunk)
            size += len(chunk)
            while size - len(kept[0]) >= limit:
                size -= len(kept.pop(0))
                cut = True
        data = b"".join(kept)
        return data[-limit:], cut or len(data) > limit

    return call(host, read)


def volume_users(host, name):
    """A named volume's labels and the containers (any state) that mount it, as
    (labels, [(id, name, labels), ...]); None when the host has no such volume."""

    def usage(client):
        try:
            volume = client.api.inspect_volume(name)
        except docker.errors.NotFound:
            return None
        users = client.api.containers(all=True, filters={"volume": name})
        return volume.get("Labels") or {}, [
            (c["Id"], (c.get("Names") or ["/"])[0].lstrip("/"), c.get("Labels") or {}) for c in users
        ]

    return call(host, usage)


def volume_create(host, name, labels):
    """Create a named volume carrying `labels`; its labels (Docker hands back an existing
    volume of that name unchanged, so a caller can tell that it was not new)."""
    return call(host, lambda c: c.api.create_volume(name, labels=labels or None).get("Labels") or {})


def image_exists(host, reference):
    def exists(client):
        try:
            client.api.inspect_image(reference)
        except docker.errors.NotFound:
            return False
        return True

    return call(host, exists)


def container_commit(host, container_id, *, repository, tag, author, message, changes, pause):
    """Save a container as an image; its id and tags."""
    _check_ref(host, container_id)

    def commit(client):
        result = client.api.commit(
            container_id, repository=repository or None, tag=tag or None, author=author or None,
            message=message or None, changes=changes or None, pause=pause,
        )  # fmt: skip
        image = client.api.inspect_image(result["Id"])
        return {"id": image["Id"], "tags": image.get("RepoTags") or []}

    try:
        return call(host, commit)
    except DockerError as exc:
        if "instruction" in str(exc).lower() or "dockerfile" in str(exc).lower():
            raise DockerError(str(exc), field="changes") from None
        raise


def _path_error(host, exc, ref, path):
    if "no such container" in str(exc).lower():
        return DockerNotFound(f"no such container on host {host.name}: {ref}")
    return DockerNotFound(f"no such file or folder in container: {path}")


def _stream(host, chunks):
    """Start reading a Docker byte stream now, so that its errors come before any byte is
    sent on, and hand back a generator of its chunks: errors translated, closed when dropped."""
    try:
        with translated(host):
            first = next(chunks, b"")
    except BaseException:
        chunks.close()
        raise

    def rest():
        try:
            with translated(host):
                if first:
                    yield first
                yield from _blocks(chunks)
        finally:
            chunks.close()

    return rest()


def _blocks(chunks, size=STREAM_BLOCK):
    """Docker's HTTP chunks (32 KiB each) gathered into blocks of about `size` bytes:
    far fewer steps for every layer downstream (and fewer, larger writes to the browser)."""
    pending, pending_size = [], 0
    for chunk in chunks:
        pending.append(chunk)
        pending_size += len(chunk)
        if pending_size >= size:
            yield b"".join(pending)
            pending, pending_size = [], 0
    if pending:
        yield b"".join(pending)


def container_archive(host, ref, path):
    """(stat, chunks) of a path in a container (works when it is stopped too): Docker's
    stat of the path (name, size, mode as a Go FileMode, mtime, linkTarget) and a tar
    stream of the path, as Docker sends it."""
    _check_ref(host, ref)
    try:
        with translated(host):
            chunks, stat = _client(host).api.get_archive(ref, path, chunk_size=STREAM_CHUNK)
    except DockerNotFound as exc:
        raise _path_error(host, exc, ref, path) from None
    return stat or {}, _stream(host, chunks)


def container_put_archive(host, ref, path, chunks):
    """Extract a tar (any iterable of bytes, sent as it is read) into the folder `path`."""
    _check_ref(host, ref)
    try:
        call(host, lambda c: c.api.put_archive(ref, path, chunks))
    except DockerNotFound as exc:
        raise _path_error(host, exc, ref, path) from None
    except DockerError as exc:
        if "not a directory" in str(exc):
            raise DockerError(f"not a folder in the container: {path}") from None
        raise


def container_export(host, ref):
    """The container's filesystem as a tar stream."""
    _check_ref(host, ref)
    with translated(host):
        chunks = _client(host).api.export(ref, chunk_size=STREAM_CHUNK)
    try:
        return _stream(host, chunks)
    except DockerNotFound:
        raise DockerNotFound(f"no such container on host {host.name}: {ref}") from None


# --- images ----------------------------------------------------------------------


# What can name an image (repository[:tag], repository@digest, an id): a "." or ".." part
# would be resolved away in the Engine's URL and ask for another endpoint
_IMAGE_REF = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/@+-]{0,511}")


def _check_image_ref(host, ref):
    if not _IMAGE_REF.fullmatch(ref) or any(part in (".", "..") for part in ref.split("/")):
        raise DockerNotFound(f"there is no image {ref} on host {host.name}")


def _image_call(host, ref, fn):
    """`call` for one image, with "no such image" said plainly."""
    _check_image_ref(host, ref)
    try:
        return call(host, fn)
    except DockerNotFound:
        raise DockerNotFound(f"there is no image {ref} on host {host.name}") from None


def image_inspect(host, ref):
    """`docker image inspect`."""
    return _image_call(host, ref, lambda c: c.api.inspect_image(ref))


def image_history(host, ref):
    """`docker history`: the layers, newest first."""
    return _image_call(host, ref, lambda c: c.api.history(ref))


def image_tag(host, ref, repository, tag):
    """`docker tag`: moves the tag if another image had it (as the CLI does)."""
    _image_call(host, ref, lambda c: c.api.tag(ref, repository, tag or None, force=True))


def image_remove(host, ref, *, force=False, no_prune=False):
    """`docker rmi`: Docker's list of what it untagged and deleted."""
    try:
        return _image_call(host, ref, lambda c: c.api.remove_image(ref, force=force, noprune=no_prune))
    except DockerConflict as exc:
        raise DockerConflict(_in_use(host, ref, str(exc))) from None


def _in_use(host, ref, text):
    """Docker's refusal to remove an image, in plain words."""
    if "being used by" in text or "is using its referenced image" in text:
        return f"image {ref} is used by a container on host {host.name}: remove the container first, or force"
    if "referenced in multiple repositories" in text:
        return f"image {ref} has several tags: remove them one by one, or force"
    if "image has dependent child images" in text:
        return f"image {ref} is the parent of other images: remove those first"
    return text


def image_users(host, image_id):
    """The containers (any state) made from an image: Docker's summaries."""
    return call(host, lambda c: c.api.containers(all=True, filters={"ancestor": image_id}))


def containers_by_image(host):
    """How many containers (any state) each image id of a host has."""
    counts = {}
    for summary in call(host, lambda c: c.api.containers(all=True), probe=True):
        counts[summary.get("ImageID", "")] = counts.get(summary.get("ImageID", ""), 0) + 1
    return counts


def image_save(host, refs):
    """`docker save`: a tar stream of one or more images (the CLI's /images/get?names=)."""

    for ref in refs:
        _check_image_ref(host, ref)

    def get(client):
        api = client.api
        response = api._get(api._url("/images/get"), params={"names": list(refs)}, stream=True)
        api._raise_for_status(response)
        return api._stream_raw_result(response, STREAM_CHUNK, False)

    try:
        chunks = call(host, get)
    except DockerNotFound as exc:
        raise DockerNotFound(f"host {host.name}: {exc}") from None
    return _stream(host, chunks)


def _messages(host, lines):
    """Docker's JSON progress lines: the `stream`/`status` texts, or its error."""
    texts = []
    for line in lines:
        if "error" in line or "errorDetail" in line:
            detail = (line.get("errorDetail") or {}).get("message") or line.get("error")
            raise DockerError(f"host {host.name}: {detail}")
        text = (line.get("stream") or line.get("status") or "").strip()
        if text:
            texts.append(text)
    return texts


def image_load(host, chunks):
    """`docker load` from an iterable of tar blocks (sent as they are read): Docker's
    messages ("Loaded image: busybox:latest")."""

    def load(client):
        return _messages(host, client.api.load_image(chunks, quiet=True))

    return call(host, load)


def image_import(host, *, chunks=None, url="", repository, tag, changes, message):
    """`docker import`: a root-filesystem tar (an iterable of blocks) or a URL the daemon
    fetches; the new image's id."""

    def import_(client):
        api = client.api
        params = {"repo": repository, "tag": tag or None, "changes": list(changes) or None,
                  "message": message or None, "fromSrc": url or "-"}  # fmt: skip
        headers = {"Content-Type": "application/tar"}
        response = api._post(api._url("/images/create"), params=params, data=None if url else chunks,
                             headers=headers, stream=True, timeout=None)  # fmt: skip
        api._raise_for_status(response)
        texts = _messages(host, api._stream_helper(response, decode=True))
        return next((t for t in reversed(texts) if t.startswith("sha256:")), texts[-1] if texts else "")

    return call(host, import_)


def image_search(host, term, limit):
    """`docker search` on Docker Hub, through the daemon."""
    try:
        return call(host, lambda c: c.api.search(term, limit=limit))
    except DockerError as exc:
        text = str(exc)
        if any(s in text for s in ("dial tcp", "lookup ", "connection refused", "timeout", "no such host")):
            raise DockerError(
                f"host {host.name} cannot reach Docker Hub (no internet access from that daemon?)"
            ) from None
        raise


def registry_login(host, *, address, username, password):
    """Check credentials through a daemon (`POST /auth`, as `docker login` does) without
    storing them anywhere: the daemon's status text. The password never reaches an error."""

    def auth(client):
        api = client.api
        data = {"username": username, "password": password, "serveraddress": address}
        return api._result(api._post_json(api._url("/auth"), data=data), json=True)

    try:
        return call(host, auth).get("Status", "")
    except WharfError as exc:
        text = str(exc).replace(password, "[redacted]") if password else str(exc)
        if "401" in text or "unauthorized" in text.lower():
            text = f"{address} refused the username or password (asked through host {host.name})"
        raise type(exc)(text) from None
class ProgressStream:
    """Docker's JSON progress of a pull or a push, message by message (`messages()`);
    `cancel()` from any thread ends it (the daemon then stops the transfer). An error
    message of Docker's is raised as a DockerError, credentials never in it."""

    def __init__(self, host, response, client):
        self.host, self._response, self._client = host, response, client
        self.cancelled = False

    def messages(self):
        try:
            with translated(self.host):
                for message in self._client.api._stream_helper(self._response, decode=True):
                    if "error" in message or "errorDetail" in message:
                        detail = (message.get("errorDetail") or {}).get("message") or message.get("error")
                        raise _registry_error(self.host, detail)
                    yield message
        except WharfError:
            if self.cancelled:  # the socket was shut down from another thread: the end
                return
            raise

    def cancel(self):
        self.cancelled = True
        try:
            sock = self._response.raw._fp.fp.raw._sock
            socket.socket.shutdown(sock, socket.SHUT_RDWR)
        except (AttributeError, OSError):
            pass

    def close(self):
        self._response.close()


def _registry_error(host, text):
    """A registry's refusal said plainly (the daemon relays several phrasings of a 401)."""
    lowered = str(text).lower()
    if any(s in lowered for s in ("no basic auth credentials", "unauthorized", "authentication required",
                                  "denied: requested access", "401")):  # fmt: skip
        return RegistryLoginNeeded(f"host {host.name}: the registry asked for a login ({text})")
    return DockerError(f"host {host.name}: {text}")


def _progress_stream(host, path, reference, params, auth):
    """POST a pull (/images/create) or a push (/images/{name}/push) and return its
    ProgressStream. `auth` ({"username", "password", "serveraddress"} or None) goes in
    the X-Registry-Auth header and nowhere else."""
    _check_image_ref(host, reference)

    def start(client):
        api = client.api
        headers = {"X-Registry-Auth": docker.auth.encode_header(auth or {})}
        response = api._post(api._url(path, reference) if "{0}" in path else api._url(path),
                             params=params, headers=headers, stream=True, timeout=None)  # fmt: skip
        try:
            api._raise_for_status(response)
        except docker.errors.APIError as exc:
            raise _registry_error(host, _explanation(exc)) from None
        return ProgressStream(host, response, client)

    with translated(host):
        return start(_client(host, streams=True))


def image_pull_stream(host, repository, *, tag="", digest="", auth=None):
    """`docker pull repository[:tag|@digest]`: a ProgressStream."""
    reference = f"{repository}@{digest}" if digest else f"{repository}:{tag or 'latest'}"
    params = {"fromImage": repository, "tag": digest or tag or "latest"}
    return _progress_stream(host, "/images/create", reference, params, auth)


def image_push_stream(host, repository, tag, auth=None):
    """`docker push repository:tag`: a ProgressStream."""
    return _progress_stream(host, "/images/{0}/push", repository, {"tag": tag}, auth)


# --- streams (logs) ------------------------------------------------------------------


class LogStream:
    """A container's log as Docker sends it: `read()` gives the next bytes (b"" at the
    end), `cancel()` from any thread ends a pending `read()`. `tty` tells
    how to read the bytes: raw for a TTY container, 8-byte framed stdout/stderr else.

    Docker sends every log line as an HTTP chunk of its own; http.client's reader costs
    a few microseconds per chunk, so the chunked encoding is taken apart here, over
    large reads of the socket's buffered reader (a read returns what has arrived)."""

    def __init__(self, host, response, tty):
        self.host, self.tty = host, tty
        self._response = response
        self._closed = False
        self._socket = response.raw._fp.fp if response.raw.chunked else None
        self._rest, self._left, self._ended = b"", 0, False  # unparsed bytes; of the current chunk

    def read(self, size=STREAM_CHUNK):
        try:
            with translated(self.host):
                if self._socket is None:
                    return b"" if self._closed else self._response.raw.read1(size)
                while not self._ended and not self._closed:
                    data = self._socket.read1(size)
                    if not data:
                        return b""
                    if body := self._dechunk(data):
                        return body
                return b""
        except (WharfError, ValueError):
            if self._closed:  # closed from another thread: the end, not an error
                return b""
            raise

    def _dechunk(self, data):
        """The payload of the chunks in `data`; a chunk may go on in the next read.
        `_left` counts what is left of the current chunk, its closing CRLF included."""
        buffer = self._rest + data if self._rest else data
        out, position, end, find = [], 0, len(buffer), buffer.find
        if self._left:
            position = min(self._left, end)
            if self._left > 2:
                out.append(buffer[: min(self._left - 2, end)])
            self._left -= position
        while not self._left and (line_end := find(b"\r\n", position)) >= 0:
            size = int(buffer[position:line_end], 16)  # Docker sends no chunk extensions
            if not size:
                self._ended = True
                break
            start = line_end + 2
            position = start + size + 2
            if position > end:  # the chunk goes on in the next read
                out.append(buffer[start : min(start + size, end)])
                self._left, position = position - end, end
            else:
                out.append(buffer[start : position - 2])
        self._rest = buffer[position:]
        return b"".join(out)

    def cancel(self):
        """End a pending `read()` from another thread, at once: shuts the socket down and
        nothing else (closing the reader itself would wait for the pending read). Not
        possible over SSH: such a stream ends with the next bytes Docker sends."""
        self._closed = True
        try:
            sock = self._response.raw._fp.fp.raw._sock
            socket.socket.shutdown(sock, socket.SHUT_RDWR)  # TLS too: the plain socket's call
        except (AttributeError, OSError):  # already closed, or not a socket (SSH)
            pass

    def close(self):
        """Release the connection (from the thread that reads)."""
        self._closed = True
        self._response.close()


def container_log_stream(host, container, *, follow, tail=None, since="", until=""):
    """`docker logs -t [-f] [--tail] [--since] [--until]`: a LogStream. Timestamps are always
    asked for (they are the cursor that resumes a stream); `since` and `until` are Docker's
    "seconds.nanoseconds" strings, kept as text so that no nanosecond is lost."""
    params = {"stdout": 1, "stderr": 1, "timestamps": 1, "follow": int(follow),
              "tail": "all" if tail is None else int(tail)}  # fmt: skip
    if since:
        params["since"] = since
    if until:
        params["until"] = until

    def open_stream(client):
        api = client.api
        tty = bool((api.inspect_container(container).get("Config") or {}).get("Tty"))
        response = api._get(api._url("/containers/{0}/logs", container), params=params, stream=True)
        api._raise_for_status(response)
        if follow:  # a quiet container must not time the stream out
            api._disable_socket_timeout(api._get_raw_response_socket(response))
        return LogStream(host, response, tty)

    with translated(host):
        return _container_call(host, container, lambda _: open_stream(_client(host, streams=True)))


def host_event_stream(host, *, since="", until=""):
    """`docker events [--since] [--until]`: a LogStream of the daemon's JSON events, one
    per line. Without `until` it follows (and never times out while the host is quiet)."""
    params = {k: v for k, v in (("since", since), ("until", until)) if v}

    def open_stream(client):
        api = client.api
        response = api._get(api._url("/events"), params=params, stream=True)
        api._raise_for_status(response)
        if not until:
            api._disable_socket_timeout(api._get_raw_response_socket(response))
        return LogStream(host, response, tty=True)

    with translated(host):
        return open_stream(_client(host, streams=True))


# --- terminals (attach, exec) ----------------------------------------------------------


class TerminalSocket:
    """A hijacked attach or exec connection, used by two threads: one `read()`s (the
    buffered reader first: bytes may have come with Docker's answer), one `write()`s
    straight to the raw socket (docker-py's SocketIO is read-only). `cancel()`, from any
    thread, ends a pending `read()`; `close()` releases the connection. The read timeout
    is lifted: a quiet terminal is not a dead one.

    A TTY gives raw bytes; otherwise Docker frames stdout and stderr (8-byte headers),
    which `read()` takes apart, giving both as they come."""

    def __init__(self, host, response, tty, exec_id=""):
        self.host, self.tty, self.exec_id = host, tty, exec_id
        self._response = response
        self._reader = response.raw._fp.fp
        raw = self._reader.raw  # SocketIO (unix, tcp) or the TLS socket
        self._socket = getattr(raw, "_sock", raw)
        self._socket.settimeout(None)
        self._closed = False
        self._frame_left, self._header = 0, b""

    def read(self, size=65536):
        """The next bytes of output, b"" at the end: what has arrived, up to `size` (a
        TTY writes a few KB at a time; what is already waiting comes in one piece)."""
        while True:
            try:
                data = self._reader.read1(size)
                while data and len(data) < size // 2 and self._waiting():
                    more = self._reader.read1(size - len(data))
                    if not more:
                        break
                    data += more
            except (OSError, ValueError):
                if self._closed:
                    return b""
                raise _connection_error(self.host, OSError("the terminal's connection broke")) from None
            if not data or self.tty:
                return data
            if out := self._unframe(data):
                return out

    def _waiting(self):
        """Are more bytes there to read at once?"""
        pending = getattr(self._socket, "pending", None)  # TLS: decrypted bytes already in
        if pending is not None and pending():
            return True
        return bool(select.select([self._socket], [], [], 0)[0])

    def _unframe(self, data):
        out, position = [], 0
        while position < len(data):
            if self._frame_left:
                take = min(self._frame_left, len(data) - position)
                out.append(data[position : position + take])
                position += take
                self._frame_left -= take
                continue
            need = 8 - len(self._header)
            self._header += data[position : position + need]
            position += need
            if len(self._header) == 8:
                self._frame_left = int.from_bytes(self._header[4:], "big")
                self._header = b""
        return b"".join(out)

    def write(self, data):
        """Send input to the process (blocks while the daemon does not take it)."""
        try:
            self._socket.sendall(data)
        except OSError:
            if self._closed:
                return
            raise _connection_error(self.host, OSError("the terminal's connection broke")) from None

    def cancel(self):
        self._closed = True
        try:
            socket.socket.shutdown(self._socket, socket.SHUT_RDWR)
        except (AttributeError, OSError, TypeError):
            pass

    def close(self):
        self.cancel()
        try:
            self._socket.close()
        finally:
            self._response.close()


def _hijacked(api, response):
    api._raise_for_status(response)
    return response


def terminal_attach(host, container, *, stdin, detach_keys=""):
    """`docker attach [--no-stdin] [--detach-keys]`: a TerminalSocket on the container's
    main process (stdout and stderr; stdin when asked)."""
    _check_ref(host, container)
    params = {"stdout": 1, "stderr": 1, "stream": 1, "stdin": int(bool(stdin)), "logs": 0}
    if detach_keys:
        params["detachKeys"] = detach_keys

    def attach(client):
        api = client.api
        tty = bool((api.inspect_container(container).get("Config") or {}).get("Tty"))
        response = api._post(api._url("/containers/{0}/attach", container), params=params,
                             headers={"Connection": "Upgrade", "Upgrade": "tcp"}, stream=True)  # fmt: skip
        return TerminalSocket(host, _hijacked(api, response), tty)

    return _container_call(host, container, lambda _: attach(_client(host, streams=True)))


def terminal_exec(host, container, *, command, user="", workdir="", environment=None, tty=True, name=""):
    """`docker exec -i [-t] [-u] [-w] [-e]`: a TerminalSocket on a new process."""
    _check_ref(host, container)

    def start(client):
        api = client.api
        exec_id = api.exec_create(container, command, stdin=True, tty=tty, user=user,
                                  workdir=workdir or None, environment=environment or None)["Id"]  # fmt: skip
        response = api._post_json(api._url("/exec/{0}/start", exec_id), data={"Tty": tty, "Detach": False},
                                  headers={"Connection": "Upgrade", "Upgrade": "tcp"}, stream=True)  # fmt: skip
        return TerminalSocket(host, _hijacked(api, response), tty, exec_id)

    try:
        return _container_call(host, container, lambda _: start(_client(host, streams=True)), name)
    except DockerError as exc:
        if "executable file not found" in str(exc) or "no such file" in str(exc).lower():
            raise DockerError(f"{command[0]} is not in container {name or container[:12]}: {exc}") from None
        raise


def terminal_resize(host, terminal, container, cols, rows):
    """The terminal's size: the exec's, or the container's (attach)."""
    if terminal.exec_id:
        call(host, lambda c: c.api.exec_resize(terminal.exec_id, height=rows, width=cols))
    else:
        _container_call(host, container, lambda c: c.api.resize(container, height=rows, width=cols))


# Sends SIGHUP to the processes whose environment carries WHARF_TERMINAL=<$1>, as a terminal
# that goes away does (needs sh, tr and grep in the image; without them nothing happens).
_HANGUP = ('for e in /proc/[0-9]*/environ; do if tr "\\0" "\\n" < "$e" 2>/dev/null | grep -qx "WHARF_TERMINAL=$1"; '
           'then p=${e#/proc/}; kill -HUP "${p%/environ}" 2>/dev/null; fi; done')  # fmt: skip


def exec_hangup(host, container, marker):
    """Hang up the processes of a TTY exec whose browser went away: Docker keeps them
    running (their terminal stays open) after the connection closes."""

    def hangup(client):
        exec_id = client.api.exec_create(container, ["sh", "-c", _HANGUP, "sh", marker], user="0")["Id"]
        client.api.exec_start(exec_id)

    _container_call(host, container, hangup)


def exec_exit_code(host, exec_id):
    """The exit code of an exec that ended (None while it runs)."""
    found = call(host, lambda c: c.api.exec_inspect(exec_id))
    return None if found.get("Running") else found.get("ExitCode")


class ExitWait:
    """`docker wait --condition removed` opened now, read later: the exit code of a
    container removed when it exits (`--rm`), once it is removed."""

    def __init__(self, host, container):
        self.host = host
        client = _client(host, streams=True)
        api = client.api
        with translated(host):
            self._response = api._post(api._url("/containers/{0}/wait", container),
                                       params={"condition": "removed"}, stream=True, timeout=None)  # fmt: skip
            api._raise_for_status(self._response)

    def code(self, timeout=30):
        """The exit code once the container is removed (None if that takes over `timeout` s)."""
        try:
            self._response.raw._fp.fp.raw._sock.settimeout(timeout)
            return (self._response.json() or {}).get("StatusCode")
        except Exception:  # noqa: BLE001 - the wait was cut: no code to tell
            return None

    def close(self):
        try:
            sock = self._response.raw._fp.fp.raw._sock
            socket.socket.shutdown(sock, socket.SHUT_RDWR)
        except (AttributeError, OSError):
            pass
        self._response.close()
