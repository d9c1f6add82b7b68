"""The permission matrix: every registered action x every built-in role x scope.

The decision table (`test_decision`) asks the action layer whether a fresh user with one
role and one scope may do each action, without Docker: every case of the table. Then
`test_action` performs each action for real, through its service against the unix-1
daemon, once allowed and once denied, and checks: the outcome; a denied action left
Docker (and the database) untouched; exactly one audit entry for the action, with the
right outcome. The allowed and denied cases go through a label-scoped grant where the
action has one (container labels are then read from the daemon). Declaring an action
without adding it to INVOKE below makes `test_every_action_is_covered` fail.
"""

import itertools

import pytest
from django.contrib.auth.models import Group
from django.core.files.uploadedfile import SimpleUploadedFile

from console.access import services as access
from console.access.models import Grant, Role
from console.actions import REGISTRY, Target, allows, require
from console.audit import export as audit_export
from console.audit.models import AuditEntry
from console.audit.retention import audit_purge
from console.audit.selectors import AuditFilters
from console.containers import files_services as files
from console.containers import run_services
from console.containers import services as containers
from console.errors import ActionDenied, DockerNotFound, HostNotFound, WharfError
from console.hosts import services as hosts
from console.hosts.models import Host
from console.images import changes as image_changes
from console.images import search as image_search
from console.images import services as images
from console.images import transfer
from console.registries import services as registries
from console.registries.models import Registry
from console.streams import services as logs
from console.streams import stats
from console.streams.events import EventFilter, event_history
from console.terminals import services as terminals
from tests.conftest import actor_for
from tests.harness import TEST_IMAGE
from tests.test_image_changes import rootfs_tar

DEVELOPER = {
    "host.view", "host.events", "container.view", "container.start", "container.stop", "container.restart",
    "container.top", "container.diff", "container.logs", "container.stats", "image.view",
    "container.exec", "container.attach", "container.attach_input",
}  # fmt: skip
VIEWER = {
    "host.view", "host.events", "container.view", "container.top", "container.diff", "container.logs",
    "container.stats", "image.view",
}  # fmt: skip
ACTIONS = sorted(code for code, action in REGISTRY.items() if not action.event)
ROLE_CODES = {
    "Admin": set(ACTIONS),
    "Operator": {"host.view", "host.events", "registry.view", "registry.use"}
    | {c for c in ACTIONS if c.startswith(("container.", "image."))}
    - {"container.run_privileged"},
    "Developer": DEVELOPER,
    "Viewer": VIEWER,
}
# act on every container of a host, or reach into it: label grants never cover them
WHOLE_HOST = {"container.prune", "container.run_privileged"}
PASSWORD = "a sturdy passphrase 981"


def scopes(code):
    action = REGISTRY[code]
    if action.scope == "global":
        return ["all", "host"]
    if action.target != "container":
        return ["all", "host", "other", "label-match"]
    return ["all", "host", "other", "label-match", "label-other"]


def expected(role, code, scope):
    action = REGISTRY[code]
    if code not in ROLE_CODES[role]:
        return False
    if action.scope == "global":
        return scope == "all"
    if scope in ("all", "host"):
        return True
    if scope == "other":
        return False
    if code in ("host.view", "host.events", "image.view", "image.search"):  # whole-host reads (events filtered)
        return True
    return scope == "label-match" and action.target == "container" and code not in WHOLE_HOST


class Case:
    """What one invocation needs: the actor, the unix-1 host, a container in the state
    the action needs (labelled for the scope), and objects to change."""

    def __init__(self, actor, host, docker, labels, state):
        self.actor, self.host, self.docker, self.labels = actor, host, docker, labels
        self.container = None
        if state:
            self.container = _container(docker, labels, state)

    @property
    def ref(self):
        return self.container.id

    @property
    def target(self):
        return Target(id=self.container.id, name=self.container.name, labels=self.labels)

    def spec(self, **extra):
        return run_services.RunSpec(image=TEST_IMAGE, command=["sleep", "60"], network="none",
                                    labels=dict(self.labels), **extra)  # fmt: skip


def _container(docker, labels, state):
    command = ["sleep", "300"]
    if state == "exited":
        command = ["true"]
    container = docker.containers.create(TEST_IMAGE, command, labels=labels, network_disabled=True)
    if state in ("running", "paused", "exited"):
        container.start()
    if state == "paused":
        container.pause()
    if state == "exited":
        container.wait(timeout=30)
    return container


def _viewer():
    return Role.objects.get(name="Viewer")


def _victim(case, tags=("1",)):
    """An image of its own (committed from a container that is then removed), tagged
    matrix/victim:<each of tags>; no tags: a dangling image."""
    container = case.docker.containers.create(TEST_IMAGE, ["true"], network_disabled=True)
    image = container.commit()
    container.remove()
    for tag in tags:
        image.tag("matrix/victim", tag)
    return image.id


def _registry(case):
    spec = case.env.registry
    return Registry.objects.create(name="test-registry", address=spec.address, plain_http=True,
                                   username=spec.username, password=spec.password)  # fmt: skip


def _in_registry(case, name, push=True):
    """TEST_IMAGE tagged <test registry>/<name>:1 on unix-1 (and pushed there, for a
    pull), with the registry's credentials stored: the reference."""
    _registry(case)
    spec = case.env.registry
    repository = f"{spec.address}/{name}"
    case.docker.images.get(TEST_IMAGE).tag(repository, "1")
    if push:
        auth = {"username": spec.username, "password": spec.password}
        list(case.docker.api.push(repository, tag="1", auth_config=auth, stream=True, decode=True))
    return f"{repository}:1"


def _saved(case):
    return b"".join(case.docker.api.get_image(TEST_IMAGE))


# Objects an action changes are made before the "untouched" snapshot: PREPARE[code](case).
PREPARE = {
    "host.delete": lambda c: Host.objects.create(name="victim", url="unix:///x.sock"),
    "user.update": lambda c: access.User.objects.create_user("someone", password=PASSWORD),
    "user.delete": lambda c: access.User.objects.create_user("someone", password=PASSWORD),
    "group.delete": lambda c: Group.objects.create(name="oldgroup"),
    "role.delete": lambda c: Role.objects.create(name="oldrole"),
    "grant.create": lambda c: access.User.objects.create_user("someone", password=PASSWORD),
    "grant.delete": lambda c: Grant.objects.create(
        role=_viewer(), user=access.User.objects.create_user("someone", password=PASSWORD)
    ),
    "audit.purge": lambda c: [require(c.actor.__class__(system=True), "audit.view") for _ in range(3)],
    "image.tag": _victim,
    "image.untag": lambda c: _victim(c, tags=("1", "2")),
    "image.remove": _victim,
    "image.prune": lambda c: _victim(c, tags=()),
    "image.load": _saved,
    "registry.use": _registry,
    "image.pull": lambda c: _in_registry(c, "matrix/pull"),
    "image.push": lambda c: _in_registry(c, "matrix/push", push=False),
    "registry.update": _registry,
    "registry.delete": _registry,
}
INVOKE = {
    "host.create": lambda c: hosts.host_create(actor=c.actor, name="brand-new", url="unix:///tmp/none.sock"),
    "host.update": lambda c: hosts.host_update(actor=c.actor, host=Host.objects.get(name="unix-2"), description="x"),
    "host.delete": lambda c: hosts.host_delete(actor=c.actor, host=c.prepared),
    "host.test": lambda c: hosts.host_test(actor=c.actor, host=c.host),
    "host.view": lambda c: hosts.host_for(c.actor, c.host.name),
    "host.events": lambda c: event_history(actor=c.actor, host=c.host, filters=EventFilter(since="0")),
    "secrets.rotate": lambda c: hosts.secrets_rotate(actor=c.actor),
    "user.create": lambda c: access.user_create(actor=c.actor, username="newcomer", password=PASSWORD),
    "user.update": lambda c: access.user_update(actor=c.actor, user=c.prepared, username="someone", email="s@example.com"),
    "user.delete": lambda c: access.user_delete(actor=c.actor, user=c.prepared),
    "group.save": lambda c: access.group_save(actor=c.actor, name="newgroup"),
    "group.delete": lambda c: access.group_delete(actor=c.actor, group=c.prepared),
    "role.save": lambda c: access.role_save(actor=c.actor, name="newrole", permissions=["host.view"]),
    "role.delete": lambda c: access.role_delete(actor=c.actor, role=c.prepared),
    "grant.create": lambda c: access.grant_create(actor=c.actor, role=_viewer(), user=c.prepared),
    "grant.delete": lambda c: access.grant_delete(actor=c.actor, grant=c.prepared),
    "access.view": lambda c: require(c.actor, "access.view"),
    "audit.view": lambda c: require(c.actor, "audit.view"),
    "audit.export": lambda c: b"".join(audit_export.AuditedExport(c.actor, "csv", AuditFilters({}))),
    "audit.purge": lambda c: audit_purge(actor=c.actor, days=0),
    "container.view": lambda c: containers.container_detail(actor=c.actor, host=c.host, ref=c.ref),
    "container.start": lambda c: containers.container_start(actor=c.actor, host=c.host, ref=c.ref),
    "container.stop": lambda c: containers.container_stop(actor=c.actor, host=c.host, ref=c.ref, timeout=0),
    "container.restart": lambda c: containers.container_restart(actor=c.actor, host=c.host, ref=c.ref, timeout=0),
    "container.kill": lambda c: containers.container_kill(actor=c.actor, host=c.host, ref=c.ref),
    "container.pause": lambda c: containers.container_pause(actor=c.actor, host=c.host, ref=c.ref),
    "container.unpause": lambda c: containers.container_unpause(actor=c.actor, host=c.host, ref=c.ref),
    "container.rename": lambda c: containers.container_rename(actor=c.actor, host=c.host, ref=c.ref, new_name="renamed"),
    "container.remove": lambda c: containers.container_remove(actor=c.actor, host=c.host, ref=c.ref, force=True),
    "container.prune": lambda c: containers.container_prune(actor=c.actor, host=c.host, ids=[c.ref]),
    "container.top": lambda c: containers.container_top(actor=c.actor, host=c.host, ref=c.ref),
    "container.diff": lambda c: containers.container_diff(actor=c.actor, host=c.host, ref=c.ref),
    "container.run": lambda c: run_services.container_run(actor=c.actor, host=c.host, spec=c.spec()),
    "container.run_privileged": lambda c: run_services.container_run(
        actor=c.actor, host=c.host, spec=c.spec(volumes=[run_services.VolumeSpec(target="/mnt", source="/tmp", read_only=True)])
    ),
    "container.commit": lambda c: run_services.container_commit(
        actor=c.actor, host=c.host, container=c.target, repository="matrix/commit", tag="1"
    ),
    "image.view": lambda c: images.image_list(actor=c.actor, hosts=[c.host]),
    "image.search": lambda c: image_search.hub_search(actor=c.actor, host=c.host, term="busybox"),
    "image.tag": lambda c: image_changes.image_tag(actor=c.actor, host=c.host, ref=c.prepared, repository="matrix/victim", tag="2"),
    "image.untag": lambda c: image_changes.image_untag(actor=c.actor, host=c.host, reference="matrix/victim:2"),
    "image.remove": lambda c: image_changes.image_remove(actor=c.actor, host=c.host, ref=c.prepared),
    "image.prune": lambda c: image_changes.image_prune(actor=c.actor, host=c.host, ids=[c.prepared]),
    "image.save": lambda c: b"".join(image_changes.image_save(actor=c.actor, host=c.host, refs=[TEST_IMAGE])),
    "image.load": lambda c: image_changes.image_load(
        actor=c.actor, host=c.host, name="saved.tar", size=len(c.prepared), chunks=[c.prepared]
    ),
    "image.import": lambda c: image_changes.image_import(
        actor=c.actor, host=c.host, repository="matrix/imported", tag="1",
        upload=SimpleUploadedFile("root.tar", rootfs_tar()),
    ),
    "image.pull": lambda c: transfer.transfer_all(transfer.open_pull(actor=c.actor, host=c.host, text=c.prepared)),
    "image.push": lambda c: transfer.transfer_all(transfer.open_push(actor=c.actor, host=c.host, text=c.prepared)),
    "registry.view": lambda c: registries.registry_list(actor=c.actor),
    "registry.use": lambda c: registries.registry_search(actor=c.actor, registry=c.prepared, term=""),
    "registry.create": lambda c: registries.registry_create(
        actor=c.actor, name="new-registry", address="127.0.0.1:5999", username="u", password="p"
    ),
    "registry.update": lambda c: registries.registry_update(actor=c.actor, registry=c.prepared, username="other"),
    "registry.delete": lambda c: registries.registry_delete(actor=c.actor, registry=c.prepared),
    "container.files": lambda c: files.container_files(actor=c.actor, host=c.host, container=c.target, path="/etc"),
    "container.download": lambda c: b"".join(
        files.container_download(actor=c.actor, host=c.host, container=c.target, path="/etc/passwd").chunks
    ),
    "container.upload": lambda c: files.container_upload(
        actor=c.actor, host=c.host, container=c.target, path="/tmp", files=[SimpleUploadedFile("x.txt", b"x")]
    ),
    "container.export": lambda c: b"".join(files.container_export(actor=c.actor, host=c.host, container=c.target)),
    "container.logs": lambda c: _read_logs(c),
    "container.stats": lambda c: _read_stats(c),
    "container.exec": lambda c: _terminal(terminals.open_exec(
        actor=c.actor, host=c.host, ref=c.ref, options=terminals.ExecOptions(command=["true"]))),
    "container.attach": lambda c: _terminal(terminals.open_attach(
        actor=c.actor, host=c.host, ref=c.ref, options=terminals.AttachOptions(input=False)), drop=True),
    "container.attach_input": lambda c: _terminal(terminals.open_attach(
        actor=c.actor, host=c.host, ref=c.ref, options=terminals.AttachOptions(input=True)), drop=True),
}


def _read_logs(case):
    """A whole log through the stream a websocket reads (a long action: opened, completed)."""
    options = logs.LogOptions(follow=False, tail=None)
    session = logs.open_logs(actor=case.actor, host=case.host, ref=case.ref, options=options)
    lines = [line for batch, _ in session.batches() for line in batch]
    session.finish(len(lines), 0, "read")


def _read_stats(case):
    """A container's stats as a websocket reads them (a long action: opened, completed)."""
    session = stats.open_container_stats(actor=case.actor, host=case.host, ref=case.ref)
    update = session.next()
    session.finish(1, 0, "read")
    assert update["rows"][0]["id"] == case.ref


def _terminal(session, drop=False):
    """A terminal session read to its end, or dropped at once (a long action: opened, completed)."""
    if drop:
        session.cancel()
    while session.read():
        pass
    session.finish(session.end_notice() if not drop else "closed")


# The container state an action needs; "created" (cheapest) for the rest.
STATE = {
    "container.stop": "running", "container.restart": "running", "container.kill": "running",
    "container.pause": "running", "container.top": "running", "container.unpause": "paused",
    "container.prune": "exited", "container.exec": "running", "container.attach": "running",
    "container.attach_input": "running",
}  # fmt: skip
NO_CONTAINER = {"container.run", "container.run_privileged"}
# Allowed, they reach Docker Hub, which the test daemons cannot: they fail past authorization.
NO_INTERNET = {"image.search"}


def test_every_action_is_covered():
    assert sorted(INVOKE) == ACTIONS, "add the new action to INVOKE (and to the role table if needed)"


def _snapshot(docker, container):
    """What a denied action must leave alone: containers, images, files, and rows."""
    containers_ = sorted((c.id, c.name, c.status, str(c.labels)) for c in docker.containers.list(all=True))
    images = sorted((i.id, tuple(i.tags)) for i in docker.images.list(all=True))
    files = container.diff() if container else None
    rows = [m.objects.count() for m in (Host, access.User, Group, Role, Grant)]
    rows.append(list(Registry.objects.values_list("name", "username", "password")))
    return containers_, images, files, rows


@pytest.fixture
def clean_daemon(docker_env):
    docker = docker_env.client("unix-1")
    yield docker
    for container in docker.containers.list(all=True):
        container.remove(force=True)
    for image in docker.images.list():
        if TEST_IMAGE not in image.tags:
            docker.images.remove(image.id, force=True)


CASES = [
    (code, role, scope)
    for code in ACTIONS
    for role, scope in itertools.product(ROLE_CODES, scopes(code))
]


def _grant(make_user, hosts, role, scope):
    grant_host = {"all": None, "host": hosts["unix-1"], "other": hosts["unix-2"]}.get(scope, hosts["unix-1"])
    label = "team=payments" if scope.startswith("label") else None
    return make_user("matrix", role=role, host=grant_host, label=label)


def _labels(scope):
    return {"team": "ops" if scope == "label-other" else "payments"}


@pytest.mark.parametrize("code, role, scope", CASES)
def test_decision(code, role, scope, hosts, make_user):
    user = _grant(make_user, hosts, role, scope)
    host = None if REGISTRY[code].scope == "global" else hosts["unix-1"]
    target = Target(id="not-asked", labels=_labels(scope))  # labels given: Docker is not asked
    assert allows(actor_for(user), code, host, target) == expected(role, code, scope)


def _real_cases():
    """One allowed and one denied case per action, through a label grant where one applies."""
    allowed = [("Operator", "label-match"), ("Developer", "label-match"), ("Admin", "host"), ("Admin", "all")]
    denied = [("Admin", "label-match"), ("Operator", "label-other"), ("Operator", "other"), ("Developer", "other"), ("Viewer", "all")]
    for code in ACTIONS:
        for preferred in (allowed, denied):
            role, scope = next(
                (r, s) for r, s in preferred if s in scopes(code)
                and expected(r, code, s) == (preferred is allowed)
                and (preferred is allowed or s == "all" or code in ROLE_CODES[r])
            )  # fmt: skip
            yield code, role, scope


@pytest.mark.parametrize("code, role, scope", list(_real_cases()))
def test_action(code, role, scope, hosts, make_user, clean_daemon, settings, docker_env):
    settings.AUDIT_READS = True
    user = _grant(make_user, hosts, role, scope)
    needs = None if code in NO_CONTAINER or REGISTRY[code].target != "container" else STATE.get(code, "created")
    case = Case(actor_for(user), hosts["unix-1"], clean_daemon, _labels(scope), needs)
    case.env = docker_env
    case.prepared = PREPARE[code](case) if code in PREPARE else None
    before = _snapshot(clean_daemon, case.container)
    first_id = AuditEntry.objects.order_by("-id").values_list("id", flat=True).first() or 0

    allowed = expected(role, code, scope)
    if allowed and code in NO_INTERNET:
        with pytest.raises(WharfError, match="cannot reach Docker Hub"):
            INVOKE[code](case)
    elif allowed:
        INVOKE[code](case)
    else:
        with pytest.raises((ActionDenied, HostNotFound, DockerNotFound)):  # out of scope looks absent
            INVOKE[code](case)
        assert _snapshot(clean_daemon, case.container) == before, "a denied action changed something"

    written = AuditEntry.objects.filter(id__gt=first_id, action=code)
    outcome = ("failed" if code in NO_INTERNET else "succeeded") if allowed else "denied"
    assert list(written.values_list("outcome", flat=True)) == [outcome], written.values_list("action", "outcome", "error")
    if not allowed:
        others = AuditEntry.objects.filter(id__gt=first_id).exclude(action=code).exclude(outcome="denied")
        assert not others.exists(), list(others.values_list("action", "outcome"))
