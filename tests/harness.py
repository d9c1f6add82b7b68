"""Throwaway Docker engines, a registry and an sshd for Wharf's tests.

Everything lives in one temporary folder under /tmp (short path: unix sockets
have a 108-byte limit) and is stopped by pid at the end: ``stop()`` is
idempotent, registered with ``atexit`` and run on SIGTERM as well.

    with DockerEnv() as env:
        env.daemons      # unix-1, unix-2, tls-1 (DaemonSpec)
        env.registry     # RegistrySpec: 127.0.0.1:PORT, htpasswd basic auth
        env.ssh          # SSHSpec: ssh://root@127.0.0.1:PORT -> unix-1
        env.client("tls-1").containers.list()

``python -m tests.harness`` starts one, prints the specs as JSON and stays up
until Ctrl-C / SIGTERM.

No daemon started here talks to any address outside 127.0.0.0/8: containers get
loopback only (``--bridge=none``), the test image is built from the machine's
static busybox and imported, and nothing is pulled from the internet.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import datetime
import http.client
import io
import ipaddress
import json
import os
import secrets
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Self

import docker
import docker.errors
import docker.tls
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = [
    "TEST_IMAGE",
    "DaemonSpec",
    "DockerEnv",
    "HarnessError",
    "RegistrySpec",
    "SSHSpec",
]

TEST_IMAGE = "wharf-test/busybox:latest"

# Debian package names, for the error message when a binary is missing.
APT_PACKAGES = (
    "docker.io busybox-static docker-registry chromium openssh-server apache2-utils"
)

START_TIMEOUT = 60.0  # seconds for one component to come up (2-core CI machine)
STOP_TIMEOUT = 20.0  # seconds of grace after SIGTERM before SIGKILL

# Binaries come from Debian's packages: look in the system dirs first so that
# e.g. a newer docker CLI in /usr/local/bin is not picked for the forced command.
_SYS_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"


class HarnessError(RuntimeError):
    """The test environment could not be set up."""


@dataclass
class DaemonSpec:
    name: str  # "unix-1", "unix-2", "tls-1"
    url: str  # "unix:///tmp/whXXXX/unix-1/docker.sock" or "tcp://127.0.0.1:PORT"
    tls_ca: str | None = None  # PEM text of the CA that signed the daemon cert
    tls_cert: str | None = None  # PEM text of a client certificate signed by it
    tls_key: str | None = None  # PEM text of the client key
    pid: int = 0


@dataclass
class RegistrySpec:
    address: str  # "127.0.0.1:PORT" (plain HTTP, htpasswd basic auth)
    username: str
    password: str
    pid: int = 0


@dataclass
class SSHSpec:
    url: str  # "ssh://root@127.0.0.1:PORT"
    home: str  # HOME with .ssh/config, .ssh/known_hosts, .ssh/id_ed25519
    target: str  # name of the DaemonSpec the forced command reaches
    pid: int = 0


# --------------------------------------------------------------------------
# small helpers


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _which(name: str, *candidates: str) -> str:
    for c in candidates:
        if os.path.isfile(c) and os.access(c, os.X_OK):
            return c
    found = shutil.which(name, path=_SYS_PATH + ":" + os.environ.get("PATH", ""))
    if found:
        return found
    raise HarnessError(
        f"{name!r} not found. Install the test dependencies (as root): "
        f"apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y "
        f"{APT_PACKAGES}  (scripts/test does this)"
    )


def _is_static_elf(path: str) -> bool:
    """True if the ELF file has no PT_INTERP program header (no dynamic loader)."""
    with open(path, "rb") as f:
        head = f.read(64)
        if head[:4] != b"\x7fELF":
            return False
        is64 = head[4] == 2
        end = "<" if head[5] == 1 else ">"
        if is64:
            phoff = struct.unpack_from(end + "Q", head, 0x20)[0]
            phentsize, phnum = struct.unpack_from(end + "HH", head, 0x36)
        else:
            phoff = struct.unpack_from(end + "I", head, 0x1C)[0]
            phentsize, phnum = struct.unpack_from(end + "HH", head, 0x2A)
        f.seek(phoff)
        table = f.read(phentsize * phnum)
    for i in range(phnum):
        (p_type,) = struct.unpack_from(end + "I", table, i * phentsize)
        if p_type == 3:  # PT_INTERP
            return False
    return True


def _static_busybox() -> str:
    for c in ("/bin/busybox", "/usr/bin/busybox", "/usr/sbin/busybox"):
        if os.path.isfile(c) and _is_static_elf(c):
            return c
    raise HarnessError(
        "no static busybox found (the test image is built from it): "
        "apt-get install -y busybox-static"
    )


def _write(path: str, data: str | bytes, mode: int = 0o644) -> str:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as f:
        f.write(data.encode() if isinstance(data, str) else data)
    os.chmod(path, mode)
    return path


def _tail(path: str, lines: int = 40) -> str:
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - 16384))
            text = f.read().decode("utf-8", "replace")
    except OSError as e:
        return f"(no log: {e})"
    return "\n".join(text.splitlines()[-lines:])


def _clean_env(**extra: str) -> dict[str, str]:
    """The environment for our daemons: no proxies, no DOCKER_*/REGISTRY_* knobs."""
    env = {}
    for k, v in os.environ.items():
        ku = k.upper()
        if ku.endswith("_PROXY") or ku.startswith(("DOCKER_", "REGISTRY_", "SSH_")):
            continue
        env[k] = v
    env["PATH"] = _SYS_PATH + ":" + os.environ.get("PATH", "")
    env.update(extra)
    return env


class _PortPicker:
    """Free ports on 127.0.0.1, distinct within one environment."""

    def __init__(self) -> None:
        self._used: set[int] = set()
        self._lock = threading.Lock()

    def pick(self) -> int:
        with self._lock:
            for _ in range(100):
                with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                    s.bind(("127.0.0.1", 0))
                    port = s.getsockname()[1]
                if port not in self._used:
                    self._used.add(port)
                    return port
        raise HarnessError("could not find a free port on 127.0.0.1")


# --------------------------------------------------------------------------
# certificates (cryptography, no openssl CLI)


def _key_pem(key) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def _cert_pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def _make_ca(cn: str):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(_now() - datetime.timedelta(hours=1))
        .not_valid_after(_now() + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(ski, critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    return key, cert


def _issue(ca_key, ca_cert: x509.Certificate, cn: str, server: bool):
    key = ec.generate_private_key(ec.SECP256R1())
    ca_ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
    b = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(_now() - datetime.timedelta(hours=1))
        .not_valid_after(_now() + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski.value),
            critical=False,
        )
    )
    if server:
        b = b.add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                    x509.DNSName("localhost"),
                ]
            ),
            critical=False,
        )
    return key, b.sign(ca_key, hashes.SHA256())


# --------------------------------------------------------------------------
# the test image: static busybox + relative applet links, built once


_IMAGE_TAR: bytes | None = None
_IMAGE_LOCK = threading.Lock()


def _image_tar() -> bytes:
    global _IMAGE_TAR
    with _IMAGE_LOCK:
        if _IMAGE_TAR is not None:
            return _IMAGE_TAR
        busybox = _static_busybox()
        applets = subprocess.run(
            [busybox, "--list"], capture_output=True, text=True, check=True
        ).stdout.split()
        with open(busybox, "rb") as f:
            binary = f.read()
        mtime = 1_700_000_000  # fixed: same tar bytes on every run
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:

            def entry(name: str, kind: bytes, mode: int, data: bytes = b"", link: str = ""):
                ti = tarfile.TarInfo(name)
                ti.type = kind
                ti.mode = mode
                ti.mtime = mtime
                ti.uid = ti.gid = 0
                ti.uname = ti.gname = "root"
                ti.linkname = link
                ti.size = len(data)
                tar.addfile(ti, io.BytesIO(data) if data else None)

            for d, mode in (("bin", 0o755), ("etc", 0o755), ("root", 0o700), ("tmp", 0o1777)):
                entry(d, tarfile.DIRTYPE, mode)
            entry("bin/busybox", tarfile.REGTYPE, 0o755, binary)
            for a in sorted(set(applets)):
                if a != "busybox" and "/" not in a:
                    entry(f"bin/{a}", tarfile.SYMTYPE, 0o777, link="busybox")
            entry(
                "etc/passwd",
                tarfile.REGTYPE,
                0o644,
                b"root:x:0:0:root:/root:/bin/sh\n"
                b"nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
            )
            entry("etc/group", tarfile.REGTYPE, 0o644, b"root:x:0:\nnogroup:x:65534:\n")
        _IMAGE_TAR = buf.getvalue()
        return _IMAGE_TAR


# --------------------------------------------------------------------------
# processes


def _stat(pid: int) -> tuple[int, str] | None:
    """(ppid, starttime) of a live process, None if gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read().decode("utf-8", "replace")
    except OSError:
        return None
    rest = data[data.rfind(")") + 2 :].split()
    if not rest or rest[0] in ("Z", "X"):
        return None
    return int(rest[1]), rest[19]


def _read(path: str) -> str:
    try:
        with open(path, "rb") as f:
            return f.read().decode("utf-8", "replace")
    except OSError:
        return ""


def _alive(pid: int, starttime: str | None = None) -> bool:
    st = _stat(pid)
    return st is not None and (starttime is None or st[1] == starttime)


_libc = None


def _umount(path: str) -> None:
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
    _libc.umount2(os.fsencode(path), 2)  # MNT_DETACH; errors ignored


def _unmount_under(root: str) -> bool:
    """Unmount everything mounted at or under `root`, deepest first: were there any?"""
    mounts = _mounts_under(root)
    for mp in sorted(mounts, key=len, reverse=True):
        _umount(mp)
    return bool(mounts)


def _mounts_under(root: str) -> list[str]:
    out = []
    for line in _read("/proc/self/mountinfo").splitlines():
        parts = line.split()
        if len(parts) < 5:
            continue
        mp = parts[4].encode().decode("unicode_escape")  # \040 etc.
        if mp == root or mp.startswith(root + "/"):
            out.append(mp)
    return out


@dataclass
class _Proc:
    name: str
    popen: subprocess.Popen
    log: str
    starttime: str | None


@dataclass
class _Daemon:
    spec: DaemonSpec
    dir: str
    sock: str
    log: str
    config: str
    tls_port: int = 0
    proc: _Proc | None = None


# Live environments, stopped at exit and on SIGTERM.
_LIVE: set[DockerEnv] = set()
_LIVE_LOCK = threading.Lock()
_SIGNALS_INSTALLED = False


def _stop_all() -> None:
    with _LIVE_LOCK:
        envs = list(_LIVE)
    for env in envs:
        try:
            env.stop()
        except Exception as e:  # noqa: BLE001 - best effort at exit, keep going
            print(f"harness: stop failed: {e!r}", file=sys.stderr)


atexit.register(_stop_all)


def _on_sigterm(signum, frame):  # pragma: no cover - exercised by hand
    _stop_all()
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


def _install_signal_handlers() -> None:
    """Stop our daemons on SIGTERM/SIGHUP if nobody else handles them."""
    global _SIGNALS_INSTALLED
    if _SIGNALS_INSTALLED or threading.current_thread() is not threading.main_thread():
        return
    for sig in (signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(sig) is signal.SIG_DFL:
            signal.signal(sig, _on_sigterm)
    _SIGNALS_INSTALLED = True


def _http_unix(sock_path: str, path: str, timeout: float = 5.0) -> tuple[int, bytes]:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(sock_path)
        s.sendall(f"GET {path} HTTP/1.0\r\nHost: docker\r\n\r\n".encode())
        chunks = []
        while True:
            b = s.recv(65536)
            if not b:
                break
            chunks.append(b)
    finally:
        s.close()
    raw = b"".join(chunks)
    head, _, body = raw.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1]) if head.startswith(b"HTTP/") else 0
    return status, body


# --------------------------------------------------------------------------
# the environment


class DockerEnv:
    """Docker engines, a registry and an sshd in one temporary folder."""

    def __init__(
        self,
        unix_daemons: int = 2,
        tls_daemons: int = 1,
        registry: bool = True,
        ssh: bool = True,
        daemon_config: dict[str, dict] | None = None,
        data_roots: dict[str, str] | None = None,
    ) -> None:
        """`daemon_config`: more daemon.json settings for a daemon, by name, e.g.
        {"unix-2": {"registry-mirrors": ["http://127.0.0.1:1/"]}}. `data_roots`: a folder
        by daemon name whose images and build cache outlive the environment (the caller
        keeps two environments off the same folder)."""
        if unix_daemons < 0 or tls_daemons < 0 or unix_daemons + tls_daemons < 1:
            raise ValueError("need at least one daemon")
        self._n_unix = unix_daemons
        self._n_tls = tls_daemons
        self._want_registry = registry
        self._want_ssh = ssh
        self._daemon_config = daemon_config or {}
        self._data_roots = data_roots or {}
        self.daemons: list[DaemonSpec] = []
        self.registry: RegistrySpec | None = None
        self.ssh: SSHSpec | None = None
        self.wrong_ca: str = ""
        self.dead_socket_url: str = ""
        self.closed_port_url: str = ""
        self.blackhole_url: str = ""
        self.root: str = ""  # the temporary folder
        self.start_seconds: float = 0.0
        self.api_version: str = ""
        self.stop_errors: list[str] = []
        self._daemons: list[_Daemon] = []
        self._procs: list[_Proc] = []
        self._procs_lock = threading.Lock()
        self._clients: list[docker.DockerClient] = []
        self._shared: dict[str, docker.DockerClient] = {}
        self._tls_files: dict[str, tuple[str, str, str]] = {}
        self._blackhole: socket.socket | None = None
        self._ports = _PortPicker()
        self._state_lock = threading.RLock()
        self._started = False
        self._stopped = False

    # ---- context manager -------------------------------------------------

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<DockerEnv root={self.root!r} daemons={[d.name for d in self.daemons]}>"

    # ---- public helpers ----------------------------------------------------

    def daemon(self, name: str) -> DaemonSpec:
        for d in self.daemons:
            if d.name == name:
                return d
        raise KeyError(f"no daemon named {name!r}; have {[d.name for d in self.daemons]}")

    def tls_files(self, name: str) -> tuple[str, str, str]:
        """(ca, cert, key) file paths of a TLS daemon's client credentials."""
        if name in self._tls_files:
            return self._tls_files[name]
        d = self.daemon(name)
        if not d.tls_ca:
            raise ValueError(f"{name} is not a TLS daemon")
        folder = os.path.join(self.root, name, "client")
        os.makedirs(folder, mode=0o700, exist_ok=True)
        files = (
            _write(os.path.join(folder, "ca.pem"), d.tls_ca),
            _write(os.path.join(folder, "cert.pem"), d.tls_cert or "", 0o600),
            _write(os.path.join(folder, "key.pem"), d.tls_key or "", 0o600),
        )
        self._tls_files[name] = files
        return files

    def client(self, name: str, **kwargs) -> docker.DockerClient:
        """A docker-py client for one of our daemons (closed by stop()); without
        options, one shared client per daemon, so a long session does not pile up
        connections."""
        if not kwargs and name in self._shared:
            return self._shared[name]
        shared = not kwargs
        d = self.daemon(name)
        kwargs.setdefault("version", self.api_version or None)
        if d.tls_ca:
            ca, cert, key = self.tls_files(name)
            kwargs.setdefault(
                "tls", docker.tls.TLSConfig(client_cert=(cert, key), ca_cert=ca, verify=True)
            )
        c = docker.DockerClient(base_url=d.url, **kwargs)
        c.api.trust_env = False  # never route 127.0.0.1 through an HTTP(S)_PROXY
        with self._state_lock:
            self._clients.append(c)
            if shared:
                self._shared[name] = c
        return c

    def as_dict(self) -> dict:
        """The specs without key material (for printing)."""
        return {
            "root": self.root,
            "start_seconds": round(self.start_seconds, 2),
            "api_version": self.api_version,
            "daemons": [
                {
                    "name": d.name,
                    "url": d.url,
                    "pid": d.pid,
                    "tls": bool(d.tls_ca),
                    **(
                        dict(
                            zip(
                                ("tls_ca_file", "tls_cert_file", "tls_key_file"),
                                self.tls_files(d.name),
                                strict=True,
                            )
                        )
                        if d.tls_ca
                        else {}
                    ),
                }
                for d in self.daemons
            ],
            "registry": (
                {
                    "address": self.registry.address,
                    "username": self.registry.username,
                    "password": self.registry.password,
                    "pid": self.registry.pid,
                }
                if self.registry
                else None
            ),
            "ssh": (
                {
                    "url": self.ssh.url,
                    "home": self.ssh.home,
                    "target": self.ssh.target,
                    "pid": self.ssh.pid,
                }
                if self.ssh
                else None
            ),
            "dead_socket_url": self.dead_socket_url,
            "closed_port_url": self.closed_port_url,
            "blackhole_url": self.blackhole_url,
        }

    # ---- start -----------------------------------------------------------

    def start(self) -> DockerEnv:
        with self._state_lock:
            if self._started:
                raise HarnessError("DockerEnv.start() called twice")
            self._started = True
        if os.geteuid() != 0:
            raise HarnessError("DockerEnv needs root (it runs dockerd)")
        t0 = time.monotonic()
        self.root = tempfile.mkdtemp(prefix="wh", dir="/tmp")
        with _LIVE_LOCK:
            _LIVE.add(self)
        _install_signal_handlers()
        try:
            self._prepare()
            tasks = [(d.spec.name, self._start_daemon, d) for d in self._daemons]
            if self._want_registry:
                tasks.append(("registry", self._start_registry, None))
            if self._want_ssh:
                tasks.append(("sshd", self._start_sshd, self._daemons[0]))
            errors = []
            pool = ThreadPoolExecutor(max_workers=len(tasks), thread_name_prefix="wharf-env")
            try:
                futures = [(name, pool.submit(fn, arg)) for name, fn, arg in tasks]
                for name, fut in futures:
                    try:
                        fut.result()
                    except Exception as e:  # noqa: BLE001 - reported below, all at once
                        errors.append(f"{name}: {e}")
            finally:
                # On Ctrl-C don't wait here: stop() below makes the workers give up.
                pool.shutdown(wait=False)
            if errors:
                raise HarnessError("test environment failed to start:\n" + "\n\n".join(errors))
        except BaseException:
            self.stop()
            raise
        self.start_seconds = time.monotonic() - t0
        return self

    def _prepare(self) -> None:
        """Everything quick and serial: binaries, certificates, ports, folders."""
        self._dockerd = _which("dockerd", "/usr/sbin/dockerd", "/usr/bin/dockerd")
        _which("containerd", "/usr/bin/containerd", "/usr/sbin/containerd")
        _which("runc", "/usr/sbin/runc", "/usr/bin/runc")
        _image_tar()  # fails early if there is no static busybox
        if self._want_registry:
            self._registry_bin = _which("docker-registry", "/usr/bin/docker-registry")
        if self._want_ssh:
            self._sshd = _which("sshd", "/usr/sbin/sshd")
            self._docker_cli = _which("docker", "/usr/bin/docker")

        names = [f"unix-{i + 1}" for i in range(self._n_unix)]
        names += [f"tls-{i + 1}" for i in range(self._n_tls)]
        ca_key = ca_cert = None
        if self._n_tls:
            ca_key, ca_cert = _make_ca("wharf-test CA")
        self.wrong_ca = _cert_pem(_make_ca("wharf-test unrelated CA")[1])
        if self._n_tls:
            client_key, client_cert = _issue(ca_key, ca_cert, "wharf-test client", server=False)
            server_key, server_cert = _issue(ca_key, ca_cert, "localhost", server=True)

        for name in names:
            folder = os.path.join(self.root, name)
            os.makedirs(folder, mode=0o700)
            sock = os.path.join(folder, "docker.sock")
            config = _write(
                os.path.join(folder, "daemon.json"),
                json.dumps(
                    {
                        "labels": ["wharf-test=1", f"wharf-daemon={name}"],
                        # else every daemon reads/creates /etc/docker/key.json
                        # (dockerd 20.10 has no command-line flag for it)
                        "deprecated-key-path": os.path.join(folder, "key.json"),
                        **self._daemon_config.get(name, {}),
                    }
                ),
            )
            spec = DaemonSpec(name=name, url=f"unix://{sock}")
            d = _Daemon(spec=spec, dir=folder, sock=sock, config=config,
                        log=os.path.join(folder, "dockerd.log"))
            if name.startswith("tls-"):
                d.tls_port = self._ports.pick()
                spec.url = f"tcp://127.0.0.1:{d.tls_port}"
                spec.tls_ca = _cert_pem(ca_cert)
                spec.tls_cert = _cert_pem(client_cert)
                spec.tls_key = _key_pem(client_key)
                tls_dir = os.path.join(folder, "server-tls")
                os.makedirs(tls_dir, mode=0o700)
                _write(os.path.join(tls_dir, "ca.pem"), spec.tls_ca)
                _write(os.path.join(tls_dir, "cert.pem"), _cert_pem(server_cert))
                _write(os.path.join(tls_dir, "key.pem"), _key_pem(server_key), 0o600)
            self._daemons.append(d)
            self.daemons.append(spec)

        # Addresses that fail in known ways.
        dead = os.path.join(self.root, "dead.sock")
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.bind(dead)
        s.listen(1)
        s.close()  # the file stays; connect() now gets ECONNREFUSED
        self.dead_socket_url = f"unix://{dead}"
        self.closed_port_url = f"tcp://127.0.0.1:{self._ports.pick()}"
        bh = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        bh.bind(("127.0.0.1", 0))
        bh.listen(4096)  # handshakes complete in the kernel; nobody ever accepts
        self._blackhole = bh
        self.blackhole_url = f"tcp://127.0.0.1:{bh.getsockname()[1]}"

    def _spawn(self, name: str, argv: list[str], log: str, env: dict[str, str]) -> _Proc:
        with self._state_lock:
            if self._stopped:
                raise HarnessError("environment is stopping")
            with open(log, "ab") as logf:
                popen = subprocess.Popen(
                    argv,
                    stdin=subprocess.DEVNULL,
                    stdout=logf,
                    stderr=subprocess.STDOUT,
                    env=env,
                    cwd=self.root,
                    start_new_session=True,  # own process group: killpg by pid
                    close_fds=True,
                )
            st = _stat(popen.pid)
            proc = _Proc(name, popen, log, st[1] if st else None)
            self._procs.append(proc)
            return proc

    def _wait(self, proc: _Proc, what: str, check, timeout: float = START_TIMEOUT):
        """Poll check() until it returns a truthy value; fail with the log tail."""
        deadline = time.monotonic() + timeout
        last = None
        while True:
            if self._stopped:
                raise HarnessError(f"{proc.name}: stopped while starting")
            rc = proc.popen.poll()
            if rc is not None:
                raise HarnessError(
                    f"{proc.name} exited with code {rc} before {what}; "
                    f"last lines of {proc.log}:\n{_tail(proc.log)}"
                )
            try:
                result = check()
                if result:
                    return result
            except Exception as e:  # noqa: BLE001 - not up yet, shown on timeout
                last = e
            if time.monotonic() > deadline:
                raise HarnessError(
                    f"{proc.name}: no {what} after {timeout:.0f}s (last error: {last!r}); "
                    f"last lines of {proc.log}:\n{_tail(proc.log)}"
                )
            time.sleep(0.05)

    def _start_daemon(self, d: _Daemon) -> None:
        argv = [
            self._dockerd,
            "--data-root", self._data_roots.get(d.spec.name) or os.path.join(d.dir, "data"),
            "--exec-root", os.path.join(d.dir, "exec"),
            "--pidfile", os.path.join(d.dir, "docker.pid"),
            "--config-file", d.config,
            "-H", f"unix://{d.sock}",
            "--bridge=none", "--iptables=false", "--ip-masq=false",
        ]  # fmt: skip
        # No --containerd: dockerd starts its own containerd with its socket,
        # state and shims under this daemon's exec-root, so daemons don't collide.
        if d.tls_port:
            tls_dir = os.path.join(d.dir, "server-tls")
            argv += [
                "-H", f"tcp://127.0.0.1:{d.tls_port}",
                "--tlsverify",
                "--tlscacert", os.path.join(tls_dir, "ca.pem"),
                "--tlscert", os.path.join(tls_dir, "cert.pem"),
                "--tlskey", os.path.join(tls_dir, "key.pem"),
            ]  # fmt: skip
        d.proc = self._spawn(d.spec.name, argv, d.log, _clean_env())
        d.spec.pid = d.proc.popen.pid

        def ping():
            status, body = _http_unix(d.sock, "/_ping", timeout=5)
            return status == 200 and body.strip() == b"OK"

        self._wait(d.proc, "answer to /_ping", ping)
        _, body = _http_unix(d.sock, "/version")
        version = json.loads(body)["ApiVersion"]
        with self._state_lock:
            if not self.api_version:
                self.api_version = version

        api = docker.APIClient(base_url=f"unix://{d.sock}", version=version, timeout=120)
        try:
            out = api.import_image_from_data(
                _image_tar(),
                repository=TEST_IMAGE.rsplit(":", 1)[0],
                tag=TEST_IMAGE.rsplit(":", 1)[1],
                changes=['CMD ["/bin/sh"]'],
            )
            for line in str(out).splitlines():
                msg = json.loads(line) if line.strip().startswith("{") else {}
                if "error" in msg or "errorDetail" in msg:
                    raise HarnessError(f"{d.spec.name}: import failed: {line}")
            api.inspect_image(TEST_IMAGE)
        finally:
            api.close()

        if d.tls_port:  # the TCP listener answers with our client certificate
            ca, cert, key = self.tls_files(d.spec.name)
            ctx = ssl.create_default_context(cafile=ca)
            ctx.load_cert_chain(cert, key)

            def tls_ping():
                conn = http.client.HTTPSConnection(
                    "127.0.0.1", d.tls_port, context=ctx, timeout=5
                )
                try:
                    conn.request("GET", "/_ping")
                    return conn.getresponse().status == 200
                finally:
                    conn.close()

            self._wait(d.proc, "TLS answer to /_ping", tls_ping)

    def _start_registry(self, _arg) -> None:
        folder = os.path.join(self.root, "registry")
        os.makedirs(os.path.join(folder, "data"), mode=0o700)
        port = self._ports.pick()
        user, password = "wharf", secrets.token_urlsafe(12)
        htpasswd = os.path.join(folder, "htpasswd")
        _write(htpasswd, self._htpasswd_line(user, password) + "\n", 0o600)
        config = {
            "version": 0.1,
            "log": {"level": "info", "formatter": "text"},
            "storage": {
                "filesystem": {"rootdirectory": os.path.join(folder, "data")},
                "delete": {"enabled": True},
                "maintenance": {"uploadpurging": {"enabled": False}},
            },
            "http": {"addr": f"127.0.0.1:{port}", "secret": secrets.token_hex(16)},
            "auth": {"htpasswd": {"realm": "wharf-test", "path": htpasswd}},
        }
        cfg = _write(os.path.join(folder, "config.yml"), json.dumps(config, indent=1))
        log = os.path.join(folder, "registry.log")
        proc = self._spawn("registry", [self._registry_bin, "serve", cfg], log, _clean_env())
        self.registry = RegistrySpec(
            address=f"127.0.0.1:{port}", username=user, password=password, pid=proc.popen.pid
        )

        def v2():
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            try:
                conn.request("GET", "/v2/")
                return conn.getresponse().status == 401
            finally:
                conn.close()

        self._wait(proc, "401 from /v2/", v2)

    @staticmethod
    def _htpasswd_line(user: str, password: str) -> str:
        tool = shutil.which("htpasswd", path=_SYS_PATH + ":" + os.environ.get("PATH", ""))
        if tool:
            out = subprocess.run(
                [tool, "-nbB", user, password], capture_output=True, text=True, check=True
            ).stdout
            return out.strip().splitlines()[0]
        try:
            import bcrypt
        except ImportError:
            _which("htpasswd")  # raises with the install hint
            raise
        return f"{user}:" + bcrypt.hashpw(password.encode(), bcrypt.gensalt(5)).decode()

    def _start_sshd(self, target: _Daemon) -> None:
        folder = os.path.join(self.root, "ssh")
        home = os.path.join(folder, "home")
        dot_ssh = os.path.join(home, ".ssh")
        os.makedirs(dot_ssh, mode=0o700)
        os.makedirs(os.path.join(folder, "docker-cli"), mode=0o700)
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)  # sshd's privsep dir
        port = self._ports.pick()

        def ed25519_pair(comment: str) -> tuple[bytes, str]:
            key = ed25519.Ed25519PrivateKey.generate()
            priv = key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.OpenSSH,
                serialization.NoEncryption(),
            )
            pub = key.public_key().public_bytes(
                serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
            ).decode()
            return priv, f"{pub} {comment}"

        host_priv, host_pub = ed25519_pair("wharf-test-host")
        host_key = _write(os.path.join(folder, "ssh_host_ed25519_key"), host_priv, 0o600)
        _write(host_key + ".pub", host_pub + "\n")
        user_priv, user_pub = ed25519_pair("wharf-test-client")
        identity = _write(os.path.join(dot_ssh, "id_ed25519"), user_priv, 0o600)
        _write(identity + ".pub", user_pub + "\n")

        forced = (
            f"{self._docker_cli} --config {os.path.join(folder, 'docker-cli')} "
            f"-H unix://{target.sock} system dial-stdio"
        )
        authorized = _write(
            os.path.join(folder, "authorized_keys"),
            f'command="{forced}",no-pty,no-port-forwarding,no-agent-forwarding,'
            f"no-X11-forwarding {user_pub}\n",
            0o600,
        )
        # paramiko looks up "[host]:port" for non-22 ports
        host_pub_kt = " ".join(host_pub.split()[:2])
        known_hosts = _write(
            os.path.join(dot_ssh, "known_hosts"),
            f"[127.0.0.1]:{port} {host_pub_kt}\n[localhost]:{port} {host_pub_kt}\n",
        )
        _write(
            os.path.join(dot_ssh, "config"),
            "Host 127.0.0.1 localhost\n"
            f"  Port {port}\n"
            "  User root\n"
            f"  IdentityFile {identity}\n"
            "  IdentitiesOnly yes\n"
            f"  UserKnownHostsFile {known_hosts}\n"
            "  StrictHostKeyChecking yes\n",
            0o600,
        )
        pidfile = os.path.join(folder, "sshd.pid")
        config = _write(
            os.path.join(folder, "sshd_config"),
            f"ListenAddress 127.0.0.1:{port}\n"
            "AddressFamily inet\n"
            f"HostKey {host_key}\n"
            f"PidFile {pidfile}\n"
            f"AuthorizedKeysFile {authorized}\n"
            "AuthorizedPrincipalsFile none\n"
            "StrictModes no\n"
            "UsePAM no\n"
            "PermitRootLogin prohibit-password\n"
            "PubkeyAuthentication yes\n"
            "PasswordAuthentication no\n"
            "KbdInteractiveAuthentication no\n"
            "AllowTcpForwarding no\n"
            "AllowAgentForwarding no\n"
            "X11Forwarding no\n"
            "PermitTunnel no\n"
            "PermitUserEnvironment no\n"
            "PrintMotd no\n"
            "UseDNS no\n"
            "MaxStartups 100:30:200\n"
            "MaxSessions 100\n"
            "LogLevel INFO\n",
        )
        log = os.path.join(folder, "sshd.log")
        proc = self._spawn("sshd", [self._sshd, "-D", "-e", "-f", config], log, _clean_env())
        self.ssh = SSHSpec(
            url=f"ssh://root@127.0.0.1:{port}", home=home, target=target.spec.name,
            pid=proc.popen.pid,
        )

        def banner():
            with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
                return s.recv(64).startswith(b"SSH-")

        self._wait(proc, "SSH banner", banner)

    # ---- stop --------------------------------------------------------------

    def stop(self) -> None:
        """Stop everything by pid and remove the temporary folder. Idempotent."""
        with self._state_lock:
            if self._stopped:
                return
            self._stopped = True
        try:
            self._stop()
        finally:
            with _LIVE_LOCK:
                _LIVE.discard(self)

    def _stop(self) -> None:
        for c in self._clients:
            with contextlib.suppress(Exception):
                c.close()
        self._clients.clear()
        self._shared.clear()
        if self._blackhole is not None:
            self._blackhole.close()
            self._blackhole = None

        # 1. Kill running containers through the API: dockerd's shutdown would
        #    otherwise wait each container's stop timeout (10 s for a `sleep`).
        running = [d for d in self._daemons if d.proc and d.proc.popen.poll() is None]
        if running:
            with ThreadPoolExecutor(max_workers=len(running)) as pool:
                list(pool.map(self._kill_containers, running))

        # 2. Note every process that is ours before the parents go away.
        tracked = self._our_processes()

        # 3. SIGTERM each process group we started, then wait.
        for p in self._procs:
            if p.popen.poll() is None:
                try:
                    os.killpg(p.popen.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + STOP_TIMEOUT
        for p in self._procs:
            try:
                p.popen.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.stop_errors.append(f"{p.name} (pid {p.popen.pid}) ignored SIGTERM")
                try:
                    os.killpg(p.popen.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                p.popen.wait(timeout=10)

        # 4. Whatever is left (containerd, shims, container processes, ssh
        #    session children): SIGKILL by pid, checking start times against reuse.
        for _ in range(50):
            left = {pid: st for pid, st in tracked.items() if _alive(pid, st)}
            left.update(self._our_processes())
            if not left:
                break
            for pid in left:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.1)
            tracked = left
        else:
            self.stop_errors.append(f"processes still alive: {sorted(left)}")

        # 5. Unmount what dockerd left (data-root bind mount, overlays, netns), in the
        #    temporary folder and in the data roots kept for later.
        for folder in [*self._data_roots.values(), self.root]:
            for _ in range(3):
                if not folder or not _unmount_under(folder):
                    break
        if self.root:
            shutil.rmtree(self.root, ignore_errors=True)
            if os.path.exists(self.root):
                _unmount_under(self.root)
                shutil.rmtree(self.root, ignore_errors=True)
            if os.path.exists(self.root):
                self.stop_errors.append(f"could not remove {self.root}")
        for err in self.stop_errors:
            print(f"harness: {err}", file=sys.stderr)

    def _kill_containers(self, d: _Daemon) -> None:
        errors = (docker.errors.DockerException, requests.RequestException, OSError)
        api = docker.APIClient(
            base_url=f"unix://{d.sock}", version=self.api_version or "1.41", timeout=10
        )
        try:
            for c in api.containers(quiet=True):
                try:
                    api.kill(c["Id"])
                except docker.errors.APIError:  # paused: unpause first
                    with contextlib.suppress(*errors):
                        api.unpause(c["Id"])
                        api.kill(c["Id"])
        except errors as e:
            self.stop_errors.append(f"{d.spec.name}: could not kill containers: {e!r}")
        finally:
            api.close()

    def _our_processes(self) -> dict[int, str]:
        """pid -> starttime of every live process that belongs to this environment:
        the ones we started and their descendants, anything whose command line
        names our temporary folder (containerd, shims, dial-stdio), and the
        processes inside our containers (matched by container id in their cgroup).
        """
        if not self.root:
            return {}
        me = os.getpid()
        mine = {me}  # never signal ourselves or our ancestors
        pid = me
        while pid > 1:
            st = _stat(pid)
            if st is None:
                break
            pid = st[0]
            mine.add(pid)
        needle = (self.root + "/").encode()
        container_ids = set()
        for d in self._daemons:
            try:
                container_ids.update(os.listdir(os.path.join(d.dir, "data", "containers")))
            except OSError:
                pass
        table: dict[int, tuple[int, str]] = {}
        found: dict[int, str] = {}
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            pid = int(entry)
            st = _stat(pid)
            if st is None or pid in mine:
                continue
            table[pid] = st
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    cmdline = f.read()
            except OSError:
                continue
            if needle in cmdline:
                found[pid] = st[1]
            elif container_ids:
                cg = _read(f"/proc/{pid}/cgroup")
                if any(cid in cg for cid in container_ids):
                    found[pid] = st[1]
        # our own processes (matching start time) and all their descendants
        roots = {p.popen.pid for p in self._procs if _alive(p.popen.pid, p.starttime)}
        roots.update(found)
        children: dict[int, list[int]] = {}
        for pid, (ppid, _) in table.items():
            children.setdefault(ppid, []).append(pid)
        stack = list(roots)
        while stack:
            pid = stack.pop()
            if pid in table:
                found[pid] = table[pid][1]
            for child in children.get(pid, ()):
                if child not in found:
                    stack.append(child)
        for pid in mine:
            found.pop(pid, None)
        return found


# --------------------------------------------------------------------------


def main() -> int:
    stop = threading.Event()

    def handler(signum, frame):
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGHUP, handler)
    env = DockerEnv()
    try:
        env.start()
        print(json.dumps(env.as_dict(), indent=2), flush=True)
        print(f"# up in {env.start_seconds:.2f}s; Ctrl-C or SIGTERM stops everything",
              file=sys.stderr, flush=True)
        while not stop.wait(1):
            pass
    finally:
        env.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
