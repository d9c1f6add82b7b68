"""The built-in roles, as rules over the action registry."""

from console.catalog import REGISTRY

DEVELOPER = {
    "host.view", "host.events", "container.view", "container.start", "container.stop", "container.restart",
    "container.top", "container.diff", "container.logs", "image.view",
    "container.exec", "container.attach", "container.attach_input",
}  # fmt: skip
VIEWER = {"host.view", "host.events", "container.view", "container.top", "container.diff", "container.logs", "image.view"}

OPERATOR_EXTRA = {"host.view", "host.events", "registry.view", "registry.use"}

BUILTIN_ROLES = {
    "Admin": ("Everything: hosts, users, roles, the audit trail.", lambda a: True),
    "Operator": (
        "Every container and image operation on the hosts given, except runs with access to the host; with an all-hosts grant, searching registries and testing their logins.",
        lambda a: (a.target in ("container", "image") or a.code in OPERATOR_EXTRA)
        and a.code != "container.run_privileged",
    ),
    "Developer": (
        "View containers and images, logs, start/stop/restart, exec and attach.",
        lambda a: a.code in DEVELOPER,
    ),
    "Viewer": ("Read-only; no terminals.", lambda a: a.code in VIEWER),
}


def builtin_codes(name):
    rule = BUILTIN_ROLES[name][1]
    return {code for code, action in REGISTRY.items() if not action.event and rule(action)}


def role_codes(role):
    if role.builtin and role.name in BUILTIN_ROLES:
        return builtin_codes(role.name)
    return {c for c in role.permissions if c in REGISTRY}
