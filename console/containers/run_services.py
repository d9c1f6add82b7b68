"""Running containers (`docker run`) and saving them as images (`docker commit`).

Every change goes through `console.actions.perform`; reads used by the pages
(`image_references`, `run_hosts`) run after authorization.
"""

import dataclasses
import posixpath
from dataclasses import dataclass, field

from django.conf import settings

from console import cli, gateway
from console.actions import REGISTRY, Target, allows, authorize, label_scope, perform
from console.errors import ActionDenied, DockerConflict, WharfError
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
        elif self.network not in ("", "none"):  # container:X, a named network: another's namespace
            reasons.append(f"the network {self.network}")
        if self.pid_host:
            reasons.append("the host's process namespace")
        if self.ipc_host:
            reasons.append("the host's IPC namespace")
        reasons += [
            f"bind mount of {v.source}" for v in self.volumes if v.is_bind and not bind_allowed(v.source)
        ]
        reasons += [
            f"host port {p.host_port} (below 1024)" for p in self.ports if p.host_port and p.host_port < 1024
        ]
        if self.cap_add:
            reasons.append(f"added capabilities ({', '.join(self.cap_add)})")
        if self.devices:
            reasons.append(f"devices ({', '.join(self.devices)})")
        return reasons

    def named_volumes(self):
        return [v for v in self.volumes if v.source and not v.is_bind]

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
    command: str = ""  # one-shot: as `docker ps --no-trunc` shows it
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
    """Create and start a container. A spec that reaches into the host is the action
    `container.run_privileged` (which needs `container.run` as well); what the run would
    share with other containers is judged (`_shared_check`) before Docker is asked."""
    if mode == INTERACTIVE:
        spec = dataclasses.replace(spec, tty=True, stdin=True)
    target = Target(name=spec.name or spec.image, labels=dict(spec.labels))
    params = {**spec.params(), "mode": mode}
    code = "container.run"
    if access := spec.host_access():
        params["host_access"] = access
        code = "container.run_privileged"
    new_volumes = []
    return perform(
        actor, code, host=host, target=target, params=params,
        check=lambda: new_volumes.extend(_shared_check(actor, host, spec)),
        run=lambda: _run(host, spec, mode, target, new_volumes),
    )  # fmt: skip


def _shared_check(actor, host, spec):
    """Refuse what a run would take from others; the names of the named volumes that
    do not exist yet (the run creates them carrying its labels, so its scope owns them).

    - An existing named volume holds files: the actor must be allowed to browse files
      (`container.files`) on the volume, judged by its labels as a container would be,
      and on every container that mounts it.
    - A fixed host port belongs to the host: a label-scoped runner lets Docker pick one."""
    if label_scope(actor, "container.run", host) is not None and any(p.host_port for p in spec.ports):
        raise ActionDenied(
            "Your grant on this host covers only labelled containers: leave the host port "
            "empty (e.g. 80/tcp) so that Docker picks a free one."
        )
    new = []
    for volume in spec.named_volumes():
        found = gateway.volume_users(host, volume.source)
        if found is None:
            new.append(volume.source)
            continue
        labels, users = found
        holders = [Target(name=volume.source, labels=labels)]
        holders += [Target(id=cid, name=name, labels=clabels) for cid, name, clabels in users]
        if not all(allows(actor, "container.files", host, holder) for holder in holders):
            raise ActionDenied(
                f"The volume {volume.source} holds files you may not see: give a new name "
                "to make a volume of your own."
            )
    return new


def _run(host, spec, mode, target, new_volumes):
    for name in new_volumes:
        if gateway.volume_create(host, name, spec.labels) != spec.labels:  # made by someone meanwhile
            raise DockerConflict(f"the volume {name} was just created by someone else on host {host.name}")
    # A one-shot run removes its container itself once the output is read: Docker's
    # auto-remove could take it away before that.
    created = dataclasses.replace(spec, auto_remove=False) if mode == ONESHOT else spec
    container_id = gateway.run_create(host, created)
    target.id = container_id
    name = spec.name or container_id[:12]
    if mode == INTERACTIVE:  # started by the terminal once attached: its first byte is seen
        return RunResult(container_id=container_id, name=name, mode=mode)
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
    try:
        result.command = cli.container_command(gateway.container_inspect(host, container_id))
    except WharfError:  # removed meanwhile: the output and exit code still stand
        pass
    if ended is not None:
        result.exit_code, result.error = ended
        if spec.auto_remove:
            gateway.container_remove(host, container_id, force=True, volumes=True)
            result.removed = True
    return result


def container_commit(*, actor, host, container, repository="", tag="", author="", message="",
                     changes=(), pause=True):  # fmt: skip
    """Save a container as an image: {"id", "tags"}. A tag that exists is shared by
    everyone on the host: only a host-wide grant may move it onto the new image."""
    params = {
        "repository": repository, "tag": tag, "author": author, "message": message,
        "changes": list(changes), "pause": pause,
    }  # fmt: skip
    reference = f"{repository}:{tag or 'latest'}"

    def check():
        scoped = label_scope(actor, "container.commit", host) is not None
        if repository and scoped and gateway.image_exists(host, reference):
            raise ActionDenied(
                f"{reference} already exists on host {host.name}: your grant covers only "
                "labelled containers, so commit to a new tag."
            )

    return perform(
        actor, "container.commit", host=host, target=container, params=params, check=check,
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
    return label_scope(actor, "container.run", host) != []


def run_labels(actor, host):
    """The labels a label-scoped runner must give (the first grant's), else {}."""
    return dict((label_scope(actor, "container.run", host) or [])[:1])


def run_hosts(actor):
    """Hosts the actor may see and run containers on."""
    return [host for host in visible_hosts(actor.user) if may_run(actor, host)]


def image_references(host):
    return gateway.image_references(host)
