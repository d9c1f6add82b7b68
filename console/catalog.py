"""Every action a user can do, declared once: its code, what a refusal says, what it is
done to, and how it is authorized and audited. Imports nothing of the console, so that
the layers above (policy, roles, the action layer) can all read it."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Action:
    code: str
    label: str  # completes "You are not allowed to ..."
    target: str  # kind of target: host, container, image, registry, user, group, role, grant, audit, session
    scope: str = "host"  # "host": done on one host; "global": console-wide
    read: bool = False  # a plain read: audited only with AUDIT_READS (denials always)
    long: bool = False  # audited when it starts, completed when it ends
    secret: tuple = ()  # parameter names never written to the audit trail
    event: bool = False  # recorded, never authorized (logins)
    # Acts on, or reaches into, the whole host: a label-scoped grant never covers it.
    host_wide: bool = False
    requires: tuple = ()  # other actions the actor must also be allowed


REGISTRY: dict[str, Action] = {}


def declare(code, label, target, **kwargs):
    action = Action(code, label, target, **kwargs)
    assert code not in REGISTRY, code
    REGISTRY[code] = action
    return action


# Console-wide (admin) actions
declare("host.create", "add hosts", "host", scope="global", secret=("tls_key",))
declare("host.update", "change hosts", "host", scope="global", secret=("tls_key",))
declare("host.delete", "remove hosts", "host", scope="global")
declare("host.test", "test host connections", "host", scope="global")
declare("secrets.rotate", "re-encrypt stored secrets", "host", scope="global")
declare("user.create", "create users", "user", scope="global", secret=("password",))
declare("user.update", "change users", "user", scope="global", secret=("password",))
declare("user.delete", "delete users", "user", scope="global")
declare("group.save", "change groups", "group", scope="global")
declare("group.delete", "delete groups", "group", scope="global")
declare("role.save", "change roles", "role", scope="global")
declare("role.delete", "delete roles", "role", scope="global")
declare("grant.create", "grant roles", "grant", scope="global")
declare("grant.delete", "revoke roles", "grant", scope="global")
declare("access.view", "see users, roles and grants", "user", scope="global", read=True)
# Reading a terminal session's recording (replay, download) is a long action (always
# recorded, like an export); a page of the trail, a read.
declare("audit.view", "see the audit trail", "audit", scope="global", read=True, long=True)
declare("audit.export", "export the audit trail", "audit", scope="global", long=True)
declare("audit.purge", "purge old audit entries", "audit", scope="global")
# Per-host reads
declare("host.view", "see this host", "host", read=True)
# A live events stream is a long action (always recorded); history, a read. What each
# user receives is filtered to what they may see (console/streams/events.py).
declare("host.events", "see the events of this host", "host", read=True, long=True)
# Containers: lists and lifecycle
declare("container.view", "see containers", "container", read=True)
declare("container.start", "start containers", "container")
declare("container.stop", "stop containers", "container")
declare("container.restart", "restart containers", "container")
declare("container.kill", "kill containers", "container")
declare("container.pause", "pause containers", "container")
declare("container.unpause", "unpause containers", "container")
declare("container.rename", "rename containers", "container")
declare("container.remove", "remove containers", "container")
declare("container.prune", "remove all stopped containers", "container", host_wide=True)
declare("container.top", "see the processes of containers", "container", read=True)
declare("container.diff", "see the changed files of containers", "container", read=True)
# A log stream or download is a long action (always recorded); a range of lines, a read.
declare("container.logs", "read the logs of containers", "container", read=True, long=True)
# Images
declare("image.view", "see images", "image", read=True)
declare("image.search", "search registries for images", "image", read=True)
declare("image.tag", "tag images", "image")
declare("image.untag", "remove image tags", "image")
declare("image.remove", "remove images", "image")
declare("image.prune", "remove unused images", "image", host_wide=True)
declare("image.save", "download images", "image", long=True)
declare("image.load", "load images", "image", long=True)
declare("image.import", "import images", "image", long=True)
declare("image.pull", "pull images", "image", long=True, host_wide=True)
declare("image.push", "push images", "image", long=True, host_wide=True)
# Registries the console knows (console-wide); using one lends its stored credentials
declare("registry.view", "see registries", "registry", scope="global", read=True)
declare("registry.use", "use registry credentials", "registry", scope="global")
declare("registry.create", "add registries", "registry", scope="global", secret=("password",))
declare("registry.update", "change registries", "registry", scope="global", secret=("password",))
declare("registry.delete", "remove registries", "registry", scope="global")
# Containers: run, commit, files
declare("container.run", "run containers", "container")
declare("container.run_privileged", "run containers with access to their host", "container",
        host_wide=True, requires=("container.run",))  # fmt: skip
declare("container.commit", "save containers as images", "container")
declare("container.files", "browse the files of containers", "container", read=True)
declare("container.download", "download files from containers", "container", long=True)
declare("container.upload", "upload files into containers", "container", long=True)
declare("container.export", "export containers", "container", long=True)
# Terminals: a session is a long action, recorded when it opens and completed when it ends
declare("container.exec", "open a terminal in containers (exec)", "container", long=True)
declare("container.attach", "watch the main process of containers (attach)", "container", long=True)
declare("container.attach_input", "type into the main process of containers (attach)", "container",
        long=True, requires=("container.attach",))  # fmt: skip
# Sessions (recorded, not authorized)
declare("auth.login", "log in", "session", scope="global", event=True)
declare("auth.logout", "log out", "session", scope="global", event=True)
declare("auth.login_failed", "log in", "session", scope="global", event=True, secret=("password",))
declare("auth.login_failed_summary", "log in", "session", scope="global", event=True)
declare("auth.password_change", "change your password", "user", scope="global", event=True,
        secret=("old_password", "new_password1", "new_password2"))  # fmt: skip
