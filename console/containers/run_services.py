"""Running containers (`docker run`) and saving them as images (`docker commit`).

Every change goes through `console.actions.perform`; reads used by the pages
(`image_references`, `run_hosts`) run after authorization.
"""

import dataclasses
import posixpath
from dataclasses import dataclass, field

from django.conf import settings

from console import gateway
from console.access import policy
from console.actions import REGISTRY, Target, authorize, perform
from console.errors import ActionDenied, WharfError
from console.hosts.services import visible_hosts

DETACHED, ONESHOT, INTERACTIVE = "detached", "oneshot", "interactive"
OUTPUT_LIMIT = 1024 * 1024  # bytes of a one-shot run's output shown (the last ones)


@dataclass
class PortSpec:
    container_port: int
    protocol: str = "tcp"
    host_ip: str = ""  # empty: every address of the host
    host_port: int | None = None  # None: Docker picks one

    def __str__(self):
        host = ":".join(x for x in (self.host_ip, str(self.host_port or "")) if x)
        return f"{host + ':' if host else ''}{self.container_port}/{self.protocol}"


@dataclass
class VolumeSpec:
    target: str
    source: str = ""  # "": an anonymous volume; "/…": a bind mount; else a named volume
    read_only: bool = False

    @property
    def is_bind(self):
        return self.source.startswith("/")

    def bind(self):
        return f"{self.source}:{self.target}:{'ro' if self.read_only else 'rw'}"

    def __str__(self):
        return self.bind() if self.source else self.target


@dataclass
class RunSpec:
    """What `docker run` is asked to do, checked and parsed (see forms.RunForm)."""

    image: str
    name: str = ""
    command: list[str] | None = None
    entrypoint: list[str] | None = None
    environment: list[str] = field(default_factory=list)  # "KEY=VALUE"
    labels: dict[str, str] = field(default_factory=dict)
    ports: list[PortSpec] = field(default_factory=list)
    volumes: list[VolumeSpec] = field(default_factory=list)
    working_dir: str = ""
    user: str = ""
    restart: str = ""  # "", "on-failure", "always", "unless-stopped"
    restart_retries: int = 0
    memory: int | None = None  # bytes
    cpus: float | None = None
    auto_remove: bool = False
    tty: bool = False
    stdin: bool = False
    network: str = ""  # "": the daemon's default; "none"; "host"
    privileged: bool = False
    pid_host: bool = False
    ipc_host: bool = False
    cap_add: list[str] = field(default_factory=list)
    devices: list[str] = field(default_factory=list)  # "/dev/x[:/dev/y[:rwm]]"

    def host_access(self):
        """What in this spec gives the container power over its host (each needs
        `container.run_privileged` on top of `container.run`)."""
        reasons = []
        if self.privileged:
            reasons.append("privileged mode")
        if self.network == "host":
            reasons.append("the host's network")
        if self.pid_host:
            reasons.append("the host's process namespace")
        if self.ipc_host:
            reasons.append("the host's IPC namespace")
        reasons += [
            f"bind mount of {v.source}" for v in self.volumes if v.is_bind and not bind_allowed(v.source)
        ]
        if self.cap_add:
            reasons.append(f"added capabilities ({', '.join(self.cap_add)})")
        if self.devices:
            reasons.append(f"devices ({', '.join(self.devices)})")
        return reasons

    def params(self):
        """For the audit trail: environment values are left out (they often hold secrets)."""
        return {
            "image": self.image, "name": self.name, "command": self.command,
            "entrypoint": self.entrypoint,
            "environment": [line.partition("=")[0] for line in self.environment],
            "labels": self.labels, "ports": [str(p) for p in self.ports],
            "volumes": [str(v) for v in self.volumes], "network": self.network or "default",
            **{k: getattr(self, k) for k in (
                "working_dir", "user", "restart", "memory", "cpus", "auto_remove", "tty", "stdin",
                "privileged", "pid_host", "ipc_host", "cap_add", "devices",
            ) if getattr(self, k)},
        }  # fmt: skip


def bind_allowed(source):
    """Is a host folder under one of settings.RUN_ALLOWED_BIND_PATHS (default: none)?"""
    source = posixpath.normpath(source)
    for allowed in settings.RUN_ALLOWED_BIND_PATHS:
        allowed = posixpath.normpath(allowed)
        if source == allowed or source.startswith(allowed.rstrip("/") + "/"):
            return True
    return False


@dataclass
class RunResult:
    container_id: str
    name: str
    mode: str
    exit_code: int | None = None  # one-shot: None if still running when the wait ended
    error: str = ""  # one-shot: what Docker said went wrong, if anything
    output: str = ""  # one-shot: the last OUTPUT_LIMIT bytes, decoded
    output_cut: bool = False
    removed: bool = False  # one-shot with auto-remove: removed after it ended


class RunStartFailed(WharfError):
    """The container was created but did not start; it is left for the person to
    inspect or remove."""

    status = 502

    def __init__(self, message, container_id):
        super().__init__(message)
        self.container_id = container_id


def container_run(*, actor, host, spec, mode=DETACHED):
    """Create and start a container. Options that reach into the host need
    `container.run_privileged` as well, checked first so that a denial never reaches Docker."""
    if mode == INTERACTIVE:
        spec = dataclasses.replace(spec, tty=True, stdin=True)
    target = Target(name=spec.name or spec.image, labels=dict(spec.labels))
    params = {**spec.params(), "mode": mode}

    def run():
        return perform(actor, "container.run", host=host, target=target, params=params,
                       run=lambda: _run(host, spec, mode, target))  # fmt: skip

    access = spec.host_access()
    if not access:
        return run()
    params["host_access"] = access
    return perform(actor, "container.run_privileged", host=host, target=target, params=params, run=run)


def _run(host, spec, mode, target):
    # A one-shot run removes its container itself once the output is read: Docker's
    # auto-remove could take it away before that.
    created = dataclasses.replace(spec, auto_remove=False) if mode == ONESHOT else spec
    container_id = gateway.run_create(host, created)
    target.id = container_id
    name = spec.name or container_id[:12]
    try:
        gateway.run_start(host, container_id)
    except WharfError as exc:
        if getattr(exc, "field", None):  # bad input seen only at start (a port in use): undo
            gateway.container_remove(host, container_id, force=True, volumes=True)
            raise
        raise RunStartFailed(f"Container {name} was created but did not start: {exc}", container_id) from None
    result = RunResult(container_id=container_id, name=name, mode=mode)
    if mode != ONESHOT:
        return result
    ended = gateway.run_wait(host, container_id, settings.RUN_WAIT_SECONDS)
    output, result.output_cut = gateway.run_output(host, container_id, OUTPUT_LIMIT)
    result.output = output.decode("utf-8", errors="replace")
    if ended is not None:
        result.exit_code, result.error = ended
        if spec.auto_remove:
            gateway.container_remove(host, container_id, force=True, volumes=True)
            result.removed = True
    return result


def container_commit(*, actor, host, container, repository="", tag="", author="", message="",
                     changes=(), pause=True):  # fmt: skip
    """Save a container as an image: {"id", "tags"}."""
    params = {
        "repository": repository, "tag": tag, "author": author, "message": message,
        "changes": list(changes), "pause": pause,
    }  # fmt: skip
    return perform(
        actor, "container.commit", host=host, target=container, params=params,
        run=lambda: gateway.container_commit(host, container.id, **params),
    )  # fmt: skip


def run_refused(*, actor, host):
    """Record and raise the refusal of a run where the actor may not run anything
    (`host` None: on no host at all)."""
    authorize(actor, "container.run", host=host, target=Target(name="(new container)", labels={}))
    raise ActionDenied(f"You are not allowed to {REGISTRY['container.run'].label}.")  # not reached


# --- selectors -----------------------------------------------------------------

def may_run(actor, host):
    """May the actor run containers on this host at all (perhaps only with a given label)?"""
    if actor.system:
        return True
    if actor.user is None:
        return False
    return policy.label_filter(actor.user, REGISTRY["container.run"], host) != []


def run_labels(actor, host):
    """The labels a label-scoped runner must give (the first grant's), else {}."""
    pairs = policy.label_filter(actor.user, REGISTRY["container.run"], host) if actor.user else None
    return dict(pairs[:1]) if pairs else {}


def run_hosts(actor):
    """Hosts the actor may see and run containers on."""
    return [host for host in visible_hosts(actor.user) if may_run(actor, host)]


def image_references(host):
    return gateway.image_references(host)
