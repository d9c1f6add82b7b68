"""Container lists, one container's page, and the lifecycle actions (`docker ps`,
`inspect`, `start`/`stop`/`restart`/`kill`/`pause`/`unpause`, `rename`, `rm`, `top`,
`diff`). Every change goes through `console.actions.perform`. A list shows what
`actions.label_scope` allows on each host; everything about one container is
authorized through `perform` with the container's own labels.
"""

import copy
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial

from console import cli, gateway
from console.actions import Target, allows, authorize, carries_one, label_scope, perform, require
from console.errors import ActionDenied, DockerError, DockerNotFound, InvalidInput, WharfError
from console.hosts.services import selected_hosts, visible_hosts
from console.params import whole_number
from console.streams import state

STATES = ("running", "paused", "restarting", "created", "exited", "dead", "removing")
STOPPED_STATES = ("created", "exited", "dead")  # what `docker container prune` removes
MASK = "••••••••"
# Environment keys whose values are secrets, and values that carry a password in a URL
SECRET_KEY = re.compile(r"PASS|PWD|SECRET|TOKEN|KEY|CREDENTIAL|PRIVATE|AUTH|CERT|SALT|COOKIE|SESSION", re.I)
SECRET_VALUE = re.compile(r"://[^/\s:@]+:[^/\s@]+@")
CONTAINER_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]+$")  # Docker's own rule
LINK_ALIAS = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$")
SIGNAL = re.compile(r"^(SIG)?[A-Z][A-Z0-9+-]{0,15}$|^[0-9]{1,2}$")
# `docker top` runs the host's ps: only these options, never BSD `e` (every process's
# environment, secrets included) nor anything else ps would print beyond a process table.
PS_PRESETS = ("-ef", "-eF", "aux", "-eo pid,user,%cpu,%mem,etime,args")
PS_COLUMNS = frozenset(
    "pid ppid pgid sid user uid group gid tty stat etime time start %cpu %mem rss vsz nlwp ni pri comm args cmd".split()
)
DIFF_KINDS = {0: "C", 1: "A", 2: "D"}  # Docker's codes -> docker diff's letters
DIFF_NAMES = {"A": "added", "C": "changed", "D": "deleted"}


class PruneIncomplete(DockerError):
    """Some stopped containers could not be removed; `result` says which."""

    def __init__(self, result):
        failed = "; ".join(f"{name}: {reason}" for name, reason in result.failed)
        super().__init__(
            f"removed {len(result.removed)} of {len(result.removed) + len(result.failed)} "
            f"stopped containers; not removed: {failed}"
        )
        self.result = result


# --- lists ---------------------------------------------------------------------


@dataclass(slots=True)
class ContainerRow:
    """One line of `docker ps`, from the Engine's summary."""

    host: object
    id: str
    name: str
    image: str
    command: str
    state: str
    health: str
    status: str
    created: int
    ports: str
    labels: dict

    @classmethod
    def from_summary(cls, host, c):
        status = c.get("Status") or ""
        return cls(
            host=host,
            id=c["Id"],
            name=(c.get("Names") or ["/" + c["Id"][:12]])[0].lstrip("/"),
            image=c.get("Image") or "",
            command=c.get("Command") or "",
            state=c.get("State") or "",
            health=_health(status),
            status=status,
            created=c.get("Created") or 0,
            ports=", ".join(_port(p) for p in c.get("Ports") or ()),
            labels=c.get("Labels") or {},
        )

    @property
    def short_id(self):
        return self.id[:12]


def _health(status):
    if "(healthy)" in status:
        return "healthy"
    if "(unhealthy)" in status:
        return "unhealthy"
    if "(health: starting)" in status:
        return "starting"
    return ""


def _port(p):
    inside = f"{p.get('PrivatePort')}/{p.get('Type', 'tcp')}"
    if p.get("PublicPort"):
        return f"{p.get('IP') or '0.0.0.0'}:{p['PublicPort']}->{inside}"
    return inside


SORTS = {
    "name": lambda r: r.name.lower(),
    "image": lambda r: r.image.lower(),
    "state": lambda r: (r.state, r.name.lower()),
    "status": lambda r: r.status.lower(),
    "created": lambda r: r.created,
    "host": lambda r: (r.host.name, r.name.lower()),
}


@dataclass
class ContainerQuery:
    """What a list shows, read from and written back to the URL (bookmarkable)."""

    all: bool = False  # docker ps -a
    latest: bool = False  # docker ps -l
    state: str = ""
    name: str = ""
    image: str = ""
    label: str = ""  # "key" or "key=value"
    host: str = ""
    sort: str = "-created"
    labels: bool = False  # show the labels column

    DEFAULT_SORT = "-created"

    @classmethod
    def from_params(cls, params):
        def text(key):
            return (params.get(key) or "").strip()[:200]

        sort = text("sort")
        return cls(
            all=text("all") in ("1", "on", "true"),
            latest=text("latest") in ("1", "on", "true"),
            state=text("state") if text("state") in STATES else "",
            name=text("name"),
            image=text("image"),
            label=text("label") if text("label").partition("=")[0] else "",
            host=text("host"),
            sort=sort if sort.lstrip("-") in SORTS else cls.DEFAULT_SORT,
            labels=text("labels") in ("1", "on", "true"),
        )

    @property
    def stopped(self):
        """Does the question need stopped containers from Docker too?"""
        return self.all or self.latest or self.state not in ("", "running")

    def docker_filters(self, scope):
        """Filters Docker applies itself; `scope` is the label pair the actor is
        limited to, when there is exactly one (Docker ANDs label filters)."""
        filters = {}
        if self.state:
            filters["status"] = [self.state]
        labels = [f"{k}={v}" for k, v in scope] + ([self.label] if self.label else [])
        if labels:
            filters["label"] = labels
        return filters

    def matches(self, row):
        return (not self.name or self.name.lower() in row.name.lower()) and (
            not self.image or self.image.lower() in row.image.lower()
        )

    def params(self, **changes):
        """The URL query for this view of the list, with `changes` applied."""
        values = {**self.__dict__, **changes}
        out = {}
        for key, value in values.items():
            if key == "sort" and value == self.DEFAULT_SORT:
                continue
            if value is True:
                out[key] = "1"
            elif value:
                out[key] = value
        return out


@dataclass
class ContainerList:
    rows: list = field(default_factory=list)
    notices: list = field(default_factory=list)  # (host, why its containers are missing)


def container_list(*, actor, hosts, query, refuse_hidden=False):
    """The containers of `hosts` the actor may see, filtered and sorted as asked.
    Hosts are asked in parallel; one that does not answer becomes a notice. A host
    whose containers the actor may not see is left out, or with `refuse_hidden`
    refused (and the refusal recorded)."""
    queries, scopes = {}, {}
    for host in hosts:
        pairs = label_scope(actor, "container.view", host)
        if pairs == [] and not refuse_hidden:
            continue
        # Recorded when AUDIT_READS asks. The target stands for the containers listed:
        # it carries one of the actor's labels when their grants are label-scoped.
        listed = Target(name="(container list)", labels=dict(pairs[:1] if pairs else []))
        require(actor, "container.view", host, listed)
        scopes[host.pk] = pairs
        docker_scope = pairs if pairs and len(pairs) == 1 else []  # several: one of them, below
        queries[host] = {"stopped": query.stopped, "filters": query.docker_filters(docker_scope)}
    listings = state.containers_of_hosts(queries)  # from the events-fed state where live
    result = ContainerList()
    for host in queries:
        listing = listings[host.pk]
        if listing.error:
            result.notices.append((host, listing.error))
            continue
        pairs = scopes[host.pk]
        several = pairs and len(pairs) > 1
        rows = [
            row
            for row in (ContainerRow.from_summary(host, c) for c in listing.containers)
            if (not several or carries_one(row.labels, pairs)) and query.matches(row)
        ]
        if query.latest and rows:
            rows = [max(rows, key=lambda r: r.created)]
        result.rows.extend(rows)
    key = query.sort.lstrip("-")
    result.rows.sort(key=SORTS[key], reverse=query.sort.startswith("-"))
    return result


# --- one container ----------------------------------------------------------------


def container_target(actor, host, ref, code):
    """The container `ref` (id or name) as the target of the action `code` (see `_resolve`)."""
    return _resolve(actor, host, ref, code)[0]


def _resolve(actor, host, ref, code):
    """(target, inspect data) of a container the actor may see: id, name and labels for
    authorization and the audit entry. A container the actor may not see is answered
    exactly like a missing one (same error, same Docker calls); the attempt at `code`
    is recorded either way: denied, or failed (missing, to one who may see them all)."""
    try:
        attrs = gateway.container_inspect(host, ref)
    except WharfError as exc:
        attrs, failure = None, exc
    if attrs is not None:
        labels = (attrs.get("Config") or {}).get("Labels") or {}
        target = Target(attrs["Id"], attrs.get("Name", "").lstrip("/") or attrs["Id"][:12], labels)
        if allows(actor, "container.view", host, target):
            return target, attrs
    else:
        target = Target(ref, ref, labels={})  # no label grant covers what cannot be read
    if attrs is not None or isinstance(failure, DockerNotFound):
        failure = DockerNotFound(f"There is no container {ref} on host {host.name}.")
    try:
        perform(actor, code, host=host, target=target, run=partial(_fail, failure))
    except ActionDenied:
        pass
    raise failure


def _fail(error):
    raise error


@dataclass
class ContainerDetail:
    """What the container page shows, with secrets masked unless the actor may
    remove the container (Operators and Admins)."""

    host: object
    target: Target
    attrs: dict
    revealed: bool
    permitted: set

    @property
    def state(self):
        return self.attrs.get("State") or {}

    @property
    def config(self):
        return self.attrs.get("Config") or {}

    @property
    def host_config(self):
        return self.attrs.get("HostConfig") or {}

    @property
    def name(self):
        return self.target.name

    @property
    def short_id(self):
        return self.target.id[:12]

    @property
    def status(self):
        return self.state.get("Status", "")

    @property
    def health(self):
        return (self.state.get("Health") or {}).get("Status", "")

    @property
    def command(self):
        """As `docker ps --no-trunc` shows it."""
        return cli.container_command(self.attrs)

    @property
    def argv(self):
        """The exact arguments (`Path` and `Args` of `docker inspect`) as a JSON array."""
        return cli.argv(self.attrs.get("Path"), self.attrs.get("Args"))

    @property
    def created(self):
        return docker_time(self.attrs.get("Created"))

    @property
    def started(self):
        return docker_time(self.state.get("StartedAt"))

    @property
    def finished(self):
        return docker_time(self.state.get("FinishedAt"))

    @property
    def restart_policy(self):
        policy_ = self.host_config.get("RestartPolicy") or {}
        name = policy_.get("Name") or "no"
        retries = policy_.get("MaximumRetryCount")
        return f"{name} (at most {retries} retries)" if name == "on-failure" and retries else name

    @property
    def ports(self):
        out = []
        for inside, bindings in ((self.attrs.get("NetworkSettings") or {}).get("Ports") or {}).items():
            if not bindings:
                out.append(inside)
            for b in bindings or ():
                out.append(f"{b.get('HostIp') or '0.0.0.0'}:{b.get('HostPort')}->{inside}")
        return out

    @property
    def mounts(self):
        return self.attrs.get("Mounts") or []

    @property
    def network_disabled(self):
        """Created with networking disabled (docker-py's `network_disabled`): no network at all."""
        return bool(self.config.get("NetworkDisabled"))

    @property
    def networks(self):
        return sorted(((self.attrs.get("NetworkSettings") or {}).get("Networks") or {}).items())

    @property
    def labels(self):
        return sorted((self.config.get("Labels") or {}).items())

    @property
    def env(self):
        """[(key, value shown, masked?)]"""
        out = []
        for entry in self.config.get("Env") or ():
            key, _, value = entry.partition("=")
            hidden = not self.revealed and is_secret(key, value)
            out.append((key, MASK if hidden else value, hidden))
        return out

    @property
    def inspect_json(self):
        attrs = self.attrs
        if not self.revealed and (attrs.get("Config") or {}).get("Env"):
            attrs = copy.deepcopy(attrs)
            attrs["Config"]["Env"] = [f"{k}={v}" for k, v, _ in self.env]
        return json.dumps(attrs, indent=2, ensure_ascii=False)

    @property
    def running(self):
        return bool(self.state.get("Running")) and not self.state.get("Paused")

    @property
    def paused(self):
        return bool(self.state.get("Paused"))


def is_secret(key, value):
    return bool(SECRET_KEY.search(key) or SECRET_VALUE.search(value))


def docker_time(text):
    """A Docker timestamp ("2024-05-01T10:00:00.123456789Z"), None for "never"."""
    if not text or text.startswith("0001-"):
        return None
    try:
        return datetime.strptime(text[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC)
    except ValueError:
        return None


LIFECYCLE_CODES = (
    "container.start", "container.stop", "container.restart", "container.kill",
    "container.pause", "container.unpause", "container.rename", "container.remove",
    "container.top", "container.diff", "container.logs", "container.stats", "container.commit", "container.files",
    "container.download", "container.upload", "container.export",
    "container.exec", "container.attach", "container.attach_input",
)  # fmt: skip


def container_detail(*, actor, host, ref):
    """`docker inspect` of one container, authorized as container.view."""
    target, attrs = _resolve(actor, host, ref, "container.view")
    perform(actor, "container.view", host=host, target=target, run=lambda: attrs)
    permitted = {code for code in LIFECYCLE_CODES if allows(actor, code, host, target)}
    return ContainerDetail(host, target, attrs, "container.remove" in permitted, permitted)


def container_top(*, actor, host, ref, ps_args="-ef", target=None):
    """`docker top`: (titles, processes) of a running container. A refused `ps_args` is
    an attempt like any other: recorded as failed."""
    target = target or container_target(actor, host, ref, "container.top")

    def run():
        return gateway.container_top(host, target.id, checked_ps_args(ps_args), target.name)

    params = {"ps_args": (ps_args or "")[:200]}
    top = perform(actor, "container.top", host=host, target=target, params=params, run=run)
    return top.get("Titles") or [], top.get("Processes") or []


def checked_ps_args(text):
    """One of PS_PRESETS, or `-o`/`-eo` with a comma list of PS_COLUMNS including pid."""
    text = " ".join((text or "").split()) or "-ef"
    option, _, columns = text.partition(" ")
    names = columns.split(",")
    if text in PS_PRESETS or (option in ("-o", "-eo") and "pid" in names and PS_COLUMNS.issuperset(names)):
        return text
    raise InvalidInput(field="ps", errors=f"ps options are one of {', '.join(PS_PRESETS)}, or -eo with columns among "
        f"{', '.join(sorted(PS_COLUMNS))} (pid among them).",
    )  # fmt: skip


@dataclass(frozen=True)
class Change:
    kind: str  # A, C or D
    path: str

    @property
    def kind_name(self):
        return DIFF_NAMES[self.kind]


def container_diff(*, actor, host, ref, kind="", path="", target=None):
    """`docker diff`: the changed paths, optionally only one kind (A, C, D) and
    those containing `path`."""
    target = target or container_target(actor, host, ref, "container.diff")
    changes = perform(
        actor, "container.diff", host=host, target=target,
        run=lambda: gateway.container_diff(host, target.id, target.name),
    )  # fmt: skip
    kind = kind if kind in DIFF_NAMES else ""
    return [
        Change(DIFF_KINDS.get(c.get("Kind"), "C"), c.get("Path", ""))
        for c in sorted(changes, key=lambda c: c.get("Path", ""))
        if (not kind or DIFF_KINDS.get(c.get("Kind")) == kind) and path in c.get("Path", "")
    ]


# --- lifecycle actions --------------------------------------------------------------


def _act(actor, code, host, ref, params, run, target=None):
    """Perform one lifecycle action on one container; returns its target."""
    target = target or container_target(actor, host, ref, code)
    perform(actor, code, host=host, target=target, params=params, run=lambda: run(target))
    return target


def _timeout(value):
    seconds = whole_number(value) if str(value).strip() else 10
    if seconds is None or seconds > 3600:
        raise InvalidInput(field="timeout", errors="The timeout is a whole number of seconds from 0 to 3600.")
    return seconds


def _signal(value):
    signal = (str(value or "").strip() or "SIGKILL").upper()
    if not SIGNAL.match(signal):
        raise InvalidInput(field="signal", errors="A signal is a name such as SIGTERM or HUP, or a number.")
    return signal


def _flag(value):
    return value is True or str(value).lower() in ("1", "on", "true", "yes")


def container_start(*, actor, host, ref, target=None):
    return _act(actor, "container.start", host, ref, {},
                lambda t: gateway.container_start(host, t.id, t.name), target)  # fmt: skip


def container_stop(*, actor, host, ref, timeout=10, target=None):
    timeout = _timeout(timeout)
    return _act(actor, "container.stop", host, ref, {"timeout": timeout},
                lambda t: gateway.container_stop(host, t.id, timeout, t.name), target)  # fmt: skip


def container_restart(*, actor, host, ref, timeout=10, target=None):
    timeout = _timeout(timeout)
    return _act(actor, "container.restart", host, ref, {"timeout": timeout},
                lambda t: gateway.container_restart(host, t.id, timeout, t.name), target)  # fmt: skip


def container_kill(*, actor, host, ref, signal="SIGKILL", target=None):
    signal = _signal(signal)
    return _act(actor, "container.kill", host, ref, {"signal": signal},
                lambda t: gateway.container_kill(host, t.id, signal, t.name), target)  # fmt: skip


def container_pause(*, actor, host, ref, target=None):
    return _act(actor, "container.pause", host, ref, {},
                lambda t: gateway.container_pause(host, t.id, t.name), target)  # fmt: skip


def container_unpause(*, actor, host, ref, target=None):
    return _act(actor, "container.unpause", host, ref, {},
                lambda t: gateway.container_unpause(host, t.id, t.name), target)  # fmt: skip


def container_rename(*, actor, host, ref, new_name, target=None):
    new_name = (new_name or "").strip().lstrip("/")
    if not CONTAINER_NAME.match(new_name):
        raise InvalidInput(field="new_name", errors="A container name is 2 or more of a-z A-Z 0-9 _ . - and starts with a letter or digit.",
        )
    return _act(actor, "container.rename", host, ref, {"new_name": new_name},
                lambda t: gateway.container_rename(host, t.id, new_name, t.name), target)  # fmt: skip


def container_remove(*, actor, host, ref, force=False, volumes=False, link="", target=None):
    """`docker rm [-f] [-v]`, or with `link` (`-l`) remove only that link of the container."""
    force, volumes, link = _flag(force), _flag(volumes), (link or "").strip()
    if link:
        alias = link.rstrip("/").rpartition("/")[2]
        if not LINK_ALIAS.match(alias):
            raise InvalidInput(field="link", errors="A link name is the alias the link was made with, e.g. db.")
        target = target or container_target(actor, host, ref, "container.remove")
        path = f"/{target.name}/{alias}"  # only a link of this container: the grant is for it
        return _act(actor, "container.remove", host, ref, {"link": path},
                    lambda t: gateway.container_remove_link(host, path), target)  # fmt: skip
    return _act(actor, "container.remove", host, ref, {"force": force, "volumes": volumes},
                lambda t: gateway.container_remove(host, t.id, force=force, volumes=volumes, name=t.name),
                target)  # fmt: skip


# action name -> (service, the options it takes)
ACTIONS = {
    "start": (container_start, ()),
    "stop": (container_stop, ("timeout",)),
    "restart": (container_restart, ("timeout",)),
    "kill": (container_kill, ("signal",)),
    "pause": (container_pause, ()),
    "unpause": (container_unpause, ()),
    "rename": (container_rename, ("new_name",)),
    "remove": (container_remove, ("force", "volumes", "link")),
}
BULK_ACTIONS = ("start", "stop", "restart", "kill", "pause", "unpause", "remove")
DONE = {
    "start": "started", "stop": "stopped", "restart": "restarted", "kill": "killed",
    "pause": "paused", "unpause": "unpaused", "rename": "renamed", "remove": "removed",
}  # fmt: skip


def container_act(*, actor, host, ref, action, options, target=None):
    """Run the lifecycle action named `action` with the options it takes from
    `options` (a form's data); returns the container's target."""
    if action not in ACTIONS:
        raise InvalidInput(field="action", errors="Choose an action.")
    service, names = ACTIONS[action]
    kwargs = {n: options.get(n, "") for n in names if n in options}
    return service(actor=actor, host=host, ref=ref, target=target, **kwargs)


def bulk_actions(*, actor, hosts):
    """The bulk actions the actor may do to at least some containers of `hosts`
    (for the action menu: each container is still authorized on its own)."""
    return [
        name
        for name in BULK_ACTIONS
        if any(label_scope(actor, f"container.{name}", h) != [] for h in hosts)
    ]


def bulk_refused_unless_allowed(*, actor, action):
    """Refuse (and record) a bulk action the actor may do to no container of any host they
    see, before the selection is read; each container is still authorized on its own."""
    if action in BULK_ACTIONS and action not in bulk_actions(actor=actor, hosts=visible_hosts(actor.user)):
        authorize(actor, f"container.{action}", target=Target(name="(selected containers)", labels={}))
        raise ActionDenied(f"You are not allowed to {action} containers.")  # grants on hosts one cannot see


@dataclass
class Outcome:
    host_name: str
    ref: str
    name: str
    outcome: str  # succeeded, failed, denied
    message: str


def container_bulk(*, actor, action, selection, options):
    """One action on many containers (`selection`: (host name, container id) pairs),
    each its own `perform` (its own audit entry). Returns an Outcome per container."""
    if action not in BULK_ACTIONS:
        raise InvalidInput(field="action", errors="Choose an action for the selected containers.")
    if "timeout" in ACTIONS[action][1]:
        _timeout(options.get("timeout", ""))
    if "signal" in ACTIONS[action][1]:
        _signal(options.get("signal", ""))

    def act(host, ref, outcome):
        target = container_target(actor, host, ref, f"container.{action}")
        outcome.name = target.name
        container_act(actor=actor, host=host, ref=ref, action=action, options=options, target=target)
        return DONE[action]

    return each_selected(actor, selection, act)


def each_selected(actor, selection, act):
    """An Outcome for each (host name, reference) of a selection across hosts, each item
    its own action: `act(host, ref, outcome)` does one (naming it on `outcome.name` once
    it knows the name) and returns what it did; a refusal or a failure is that item's
    outcome, and the others go on."""
    hosts, outcomes = selected_hosts(actor, [name for name, _ in selection]), []
    for host_name, ref in selection:
        outcome = Outcome(host_name, ref, ref, "failed", f"no host {host_name} you may see")
        outcomes.append(outcome)
        if hosts[host_name] is None:
            continue
        try:
            outcome.outcome, outcome.message = "succeeded", act(hosts[host_name], ref, outcome)
        except ActionDenied as exc:
            outcome.outcome, outcome.message = "denied", str(exc)
        except WharfError as exc:
            outcome.outcome, outcome.message = "failed", str(exc)
    return outcomes


# --- remove all stopped containers ---------------------------------------------


def _prune_target():
    return Target(name="(stopped containers)", labels={})  # whole host: label grants never match


def may_prune(*, actor, host):
    """For showing the "remove all stopped containers" link (the action checks again)."""
    return allows(actor, "container.prune", host, _prune_target())


def prune_candidates(*, actor, host):
    """The stopped containers `docker rm $(docker ps -aq)` would remove, for the
    confirmation page (which is refused to those who may not prune)."""
    require(actor, "container.prune", host, _prune_target())
    found = gateway.containers_of(host, stopped=True, filters={"status": list(STOPPED_STATES)})
    return sorted((ContainerRow.from_summary(host, c) for c in found), key=lambda r: r.name)


@dataclass
class PruneResult:
    removed: list = field(default_factory=list)  # names
    failed: list = field(default_factory=list)  # (name, reason)
    skipped: list = field(default_factory=list)  # confirmed ids no longer stopped or gone


def container_prune(*, actor, host, ids):
    """Remove the stopped containers the person confirmed (by id): the ones that are
    still stopped now, never a running one, never one they were not shown."""
    authorize(actor, "container.prune", host=host, target=_prune_target())  # before asking Docker
    stopped = {
        c["Id"]: ContainerRow.from_summary(host, c)
        for c in gateway.containers_of(host, stopped=True, filters={"status": list(STOPPED_STATES)})
    }
    confirmed = [stopped[i] for i in dict.fromkeys(ids) if i in stopped]
    result = PruneResult(skipped=[i for i in ids if i not in stopped])

    def run():
        for row in confirmed:
            try:
                gateway.container_remove(host, row.id, name=row.name)
                result.removed.append(row.name)
            except WharfError as exc:
                result.failed.append((row.name, str(exc)))
        if result.failed:
            raise PruneIncomplete(result)
        return result

    return perform(
        actor, "container.prune", host=host, target=_prune_target(),
        params={"names": [r.name for r in confirmed]}, run=run,
    )  # fmt: skip
