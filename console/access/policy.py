"""Who may do what where: the one place grants are interpreted.

A grant covers an action when its role includes the action and, for per-host
actions, its host is empty (all hosts) or the action's host. A label-scoped grant
covers container actions only on containers carrying its label, plus `host.view`
of its host so the person can find them; never an action that acts on or reaches
into the whole host (`Action.host_wide`: prune, runs with access to the host). Console-wide actions need a grant with
neither host nor label. Superusers may do everything.
"""

from django.db.models import Q

from console.access.models import Grant
from console.catalog import REGISTRY
from console.hosts.models import Host


def grants_of(user):
    """The user's grants (directly and through groups), cached on the user object."""
    cached = getattr(user, "_wharf_grants", None)
    if cached is None:
        # a join, not a subquery of the user's groups: a third less time on every request
        rows = Grant.objects.filter(Q(user_id=user.pk) | Q(group__user=user.pk)).select_related("role")
        cached = [(g, g.role.codes()) for g in rows]
        user._wharf_grants = cached
    return cached


def _covers(grant, codes, action, host):
    if action.code not in codes:
        return False
    if action.scope == "global":
        return grant.host_id is None and not grant.label_key
    return grant.host_id is None or (host is not None and grant.host_id == host.pk)


def _label_matches(grant, labels):
    return labels is not None and carries_one(labels, [(grant.label_key, grant.label_value)])


def carries_one(labels, pairs):
    """Does a container with these labels carry one of the (key, value) pairs?"""
    return any(labels.get(k) == v for k, v in pairs)


def permits(user, action, host=None, labels=None):
    if not user.is_active:
        return False
    if user.is_superuser:
        return True
    for grant, codes in grants_of(user):
        if not _covers(grant, codes, action, host):
            continue
        if not grant.label_key:
            return True
        if _whole_host_read(action) or (_label_covers(action) and _label_matches(grant, labels)):
            return True
    return False


def _whole_host_read(action):
    """What a label-scoped grant gives on its host besides its containers: seeing the
    host, its events (filtered to its containers', console/streams/events.py), and
    reading its images (which belong to the host, not to a label)."""
    return action.code in ("host.view", "host.events") or (action.target == "image" and action.read)


def _label_covers(action):
    """A label-scoped grant covers container actions that stay inside the container."""
    return action.target == "container" and not action.host_wide


def needs_labels(user, action, host):
    """True when only a label-scoped grant could allow this container action."""
    if action.target != "container" or user.is_superuser or not user.is_active:
        return False
    covering = [g for g, codes in grants_of(user) if _covers(g, codes, action, host)]
    return bool(covering) and all(g.label_key for g in covering)


def label_filter(user, action, host):
    """For lists: None if every container of the host is covered, else the
    (key, value) pairs a container must carry one of (empty: none covered)."""
    if not user.is_active:
        return []
    if user.is_superuser:
        return None
    pairs = []
    for grant, codes in grants_of(user):
        if _covers(grant, codes, action, host):
            if not grant.label_key or _whole_host_read(action):
                return None
            if _label_covers(action):
                pairs.append((grant.label_key, grant.label_value))
    return pairs


def visible_hosts(user):
    """Enabled hosts the user may see."""
    hosts = Host.objects.filter(enabled=True)
    if not user.is_active:
        return hosts.none()
    if user.is_superuser:
        return hosts
    view = REGISTRY["host.view"]
    everywhere = any(
        _covers(g, codes, view, None) and g.host_id is None for g, codes in grants_of(user)
    )
    if everywhere:
        return hosts
    ids = {g.host_id for g, codes in grants_of(user) if view.code in codes and g.host_id}
    return hosts.filter(pk__in=ids)


def effective_access(user):
    """What the user may do, for the "effective access" page: the console-wide
    actions, and for every visible host a list of (action, label pairs), the pairs empty
    when the action is allowed on the whole host, else those a container must carry."""
    actions = [a for a in REGISTRY.values() if not a.event]
    console_wide = [a for a in actions if a.scope == "global" and permits(user, a)]
    hosts = []
    for host in visible_hosts(user):
        rows = []
        for action in (a for a in actions if a.scope == "host"):
            if permits(user, action, host):
                rows.append((action, []))
            elif pairs := label_filter(user, action, host):
                rows.append((action, pairs))
        hosts.append((host, rows))
    return {"console": console_wide, "hosts": hosts}


# --- power: whose account an actor may change, and what they may hand out ------------
# A piece of power is (action code, host id or None for every host, (key, value) of a
# label or None for whole hosts). A user's power is what their grants give; superusers
# hold all of it. An actor may change (edit, delete, regroup, revoke) only accounts whose
# power they hold themselves, and may hand out (grants, roles, group members) only power
# they hold. README, "Who may change whom".


def grant_power(grant, codes):
    """What one grant gives: a label-scoped grant gives container actions that stay in
    the container, host.view and image reads only, console-wide actions need a grant on every host
    without label."""
    label = (grant.label_key, grant.label_value) if grant.label_key else None
    power = set()
    for code in codes:
        action = REGISTRY[code]
        if action.scope == "global":
            if grant.host_id is None and label is None:
                power.add((code, None, None))
        elif label is None or _label_covers(action) or _whole_host_read(action):
            power.add((code, grant.host_id, label))
    return power


def power_of(user, groups=None):
    """The user's power; with `groups`, as it would be with those groups instead."""
    if groups is None:
        pairs = grants_of(user)
    else:
        holder = Q(group__in=list(groups))
        if user.pk is not None:
            holder |= Q(user=user)
        pairs = [(g, g.role.codes()) for g in Grant.objects.filter(holder).select_related("role")]
    return set().union(*(grant_power(g, codes) for g, codes in pairs))


def lacks(user, power):
    """The pieces of `power` the user does not hold (the same or wider)."""
    if user.is_superuser:
        return set()
    held = power_of(user)
    return {
        (code, host, label) for code, host, label in power
        if not any(c == code and h in (None, host) and lab in (None, label) for c, h, lab in held)
    }  # fmt: skip


def outranks(target, actor, groups=None):
    """Has `target` (with `groups`, if given) power the `actor` does not hold?"""
    if target.is_superuser and not actor.is_superuser:
        return True
    return bool(lacks(actor, power_of(target, groups)))


def everywhere(codes):
    """The power of holding `codes` on every host, without label."""
    return {(code, None, None) for code in codes}


def has_administrator():
    """Is there an active superuser, or an active user who holds every action everywhere?"""
    from django.contrib.auth import get_user_model

    users = get_user_model().objects.filter(is_active=True)
    if users.filter(is_superuser=True).exists():
        return True
    full = everywhere(code for code, action in REGISTRY.items() if not action.event)
    wide = Grant.objects.filter(host=None, label_key="")
    candidates = users.filter(Q(wharf_grants__in=wide) | Q(groups__wharf_grants__in=wide)).distinct()
    return any(full <= power_of(user) for user in candidates)
