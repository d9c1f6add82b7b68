"""Users, groups, roles and grants: every change goes through `console.actions.perform`,
so allowed, failed and denied attempts are all on the record. Input is checked inside
the action (after authorization): a refused actor learns nothing about the data.

Beyond the permission itself, nobody changes the account of someone with power they do
not hold, nobody hands out power they do not hold, and nobody removes the last
administrator (`policy.outranks`, `policy.lacks`, `policy.has_administrator`); those
refusals are denials, recorded as such.
"""

from django.contrib.auth import get_user_model, password_validation
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Prefetch, Q

from console.access import policy
from console.access.models import Grant, Role
from console.actions import REGISTRY, Target, perform, record_event
from console.errors import ActionDenied, InvalidInput

User = get_user_model()
KIND_TITLES = {"host": "Hosts", "container": "Containers", "image": "Images", "audit": "Audit trail"}


def _check(obj, exclude=()):
    try:
        obj.full_clean(exclude=exclude)
    except ValidationError as exc:
        fields = exc.message_dict if hasattr(exc, "message_dict") else {None: exc.messages}
        raise InvalidInput({None if f == "__all__" else f: m for f, m in fields.items()}) from None


def _names(objects):
    return sorted(str(o) for o in objects)


def _diff(before, after):
    before, after = set(before), set(after)
    return sorted(after - before), sorted(before - after)


# --- who may change whom -----------------------------------------------------------

OUT_OF_REACH = "You are not allowed to change the account of someone with access you do not have."


def _refuse_out_of_reach(actor, user, groups=None):
    """Refuse to change `user` (or to give them `groups`) beyond the actor's own power."""
    if not actor.system and policy.outranks(user, actor.user, groups):
        raise ActionDenied(OUT_OF_REACH)


def _refuse_handing_out(actor, power):
    if not actor.system and policy.lacks(actor.user, power):
        raise ActionDenied("You are not allowed to hand out access you do not have yourself.")


def _keeping_an_administrator(change):
    """Run `change` (inside the action's transaction); refuse it if it removed the last
    administrator, so that the console is never left without one."""
    had = policy.has_administrator()
    result = change()
    if had and not policy.has_administrator():
        raise ActionDenied(
            "That would leave no administrator (an active user with every permission on every host)."
        )
    return result


def _group_power(group):
    return policy.power_of(User(), groups=[group]) if group.pk else set()


# --- users -----------------------------------------------------------------------


def _validate_password(password, user):
    try:
        password_validation.validate_password(password, user)
    except ValidationError as exc:
        raise InvalidInput({"password": exc.messages}) from None


def first_admin(*, actor, username, password):
    """The first account, an Admin on every host; None when accounts exist already."""
    if User.objects.exists():
        return None
    user = user_create(actor=actor, username=username, password=password)
    grant_create(actor=actor, role=Role.objects.get(name="Admin"), user=user)
    return user


def user_create(*, actor, username, password, email="", is_active=True, groups=()):
    user = User(username=username, email=email, is_active=is_active)
    params = {
        "username": username, "email": email, "is_active": is_active,
        "groups": _names(groups), "password": bool(password),
    }  # fmt: skip

    @transaction.atomic
    def create():
        _refuse_out_of_reach(actor, user, groups)
        _check(user, exclude=["password"])
        _validate_password(password, user)
        user.set_password(password)
        user.save()
        user.groups.set(groups)
        return user

    return perform(actor, "user.create", target=Target(name=username), params=params, run=create)


def user_update(*, actor, user, username, email="", is_active=True, groups=(), password=""):
    """Change a user; an empty `password` keeps the current one."""
    old_groups = _names(user.groups.all())
    changes = {f: v for f, v in (("email", email), ("is_active", is_active)) if getattr(user, f) != v}
    if username != user.username:
        changes["renamed_from"] = user.username
    added, removed = _diff(old_groups, _names(groups))
    if added or removed:
        changes.update(groups_added=added, groups_removed=removed)
    if password:
        changes["password"] = True
    target = Target(id=user.pk, name=user.username)

    def change():
        if not is_active and actor.user is not None and actor.user.pk == user.pk:
            raise InvalidInput({"is_active": ["You cannot deactivate your own account."]})
        user.username, user.email, user.is_active = username, email, is_active
        _check(user, exclude=["password"])
        if password:
            _validate_password(password, user)
            user.set_password(password)
        user.save()
        user.groups.set(groups)
        return user

    @transaction.atomic
    def update():
        _refuse_out_of_reach(actor, user)
        _refuse_out_of_reach(actor, user, groups)
        return _keeping_an_administrator(change)

    return perform(actor, "user.update", target=target, params={"username": username, **changes}, run=update)


def user_delete(*, actor, user):
    @transaction.atomic
    def delete():
        if actor.user is not None and actor.user.pk == user.pk:
            raise InvalidInput("You cannot delete your own account.")
        _refuse_out_of_reach(actor, user)
        _keeping_an_administrator(user.delete)

    return perform(
        actor, "user.delete", target=Target(id=user.pk, name=user.username),
        params={"username": user.username}, run=delete,
    )  # fmt: skip


def password_change(*, actor, form):
    """The logged-in user changes their own password (`OwnPasswordForm` checks the current
    one, as a login, and the password rules). Recorded whether it worked or not, never
    with the passwords; a wrong current password is on the record as a failed login."""
    if not form.is_valid():
        if "old_password" not in form.errors:
            error = "the new password was refused: " + " ".join(form.errors.get("new_password2", []))
            record_event(actor, "auth.password_change", error=error)
        return
    with transaction.atomic():
        form.save()
        record_event(actor, "auth.password_change")


# --- groups ----------------------------------------------------------------------


def group_save(*, actor, name, members=(), group=None):
    """Create a group (`group` None) or rename it and set its members."""
    members = list(members)
    params = {"name": name}
    old_members = list(group.user_set.all()) if group is not None else []
    if group is None:
        group = Group()
        params["members"] = _names(members)
    else:
        if name != group.name:
            params["renamed_from"] = group.name
        params["members_added"], params["members_removed"] = _diff(_names(old_members), _names(members))

    def change():
        group.name = name
        _check(group)
        group.save()
        group.user_set.set(members)
        return group

    @transaction.atomic
    def save():
        changed = set(old_members) ^ set(members)
        if changed:  # joining or leaving gives or takes the group's access
            _refuse_handing_out(actor, _group_power(group))
            for member in changed:
                _refuse_out_of_reach(actor, member)
        return _keeping_an_administrator(change)

    return perform(actor, "group.save", target=Target(id=group.pk or "", name=name), params=params, run=save)


def group_delete(*, actor, group):
    """Delete a group; its grants go with it (its members keep their own)."""
    grants = group.wharf_grants.count()

    @transaction.atomic
    def delete():
        _refuse_handing_out(actor, _group_power(group))
        for member in group.user_set.all():
            _refuse_out_of_reach(actor, member)
        _keeping_an_administrator(group.delete)

    return perform(
        actor, "group.delete", target=Target(id=group.pk, name=group.name),
        params={"name": group.name, "grants_removed": grants}, run=delete,
    )  # fmt: skip


# --- roles -----------------------------------------------------------------------


def grantable_codes():
    """Action codes a custom role may include (events such as logins are not authorized)."""
    return [code for code, action in REGISTRY.items() if not action.event]


def _refuse_builtin(role, verb):
    if role.builtin:
        raise InvalidInput(
            f"{role.name} is a built-in role: its permissions come from Wharf itself and it "
            f"cannot be {verb}. Create a custom role instead."
        )


def role_save(*, actor, name, description="", permissions=(), role=None):
    """Create a custom role (`role` None) or change one; built-in roles are refused."""
    new = role is None
    role = role or Role()
    codes = sorted(set(permissions))
    params = {"name": name, "description": description, "permissions": codes}
    if not new:
        if name != role.name:
            params["renamed_from"] = role.name
        params["permissions_added"], params["permissions_removed"] = _diff(role.permissions, codes)

    def change():
        role.name, role.description, role.permissions = name, description, codes
        _check(role)
        role.save()
        return role

    @transaction.atomic
    def save():
        _refuse_builtin(role, "changed")
        unknown = sorted(set(codes) - set(grantable_codes()))
        if unknown:
            raise InvalidInput({"permissions": [f"Unknown actions: {', '.join(unknown)}."]})
        # What a role gives depends on its grants: only actions held everywhere go in or out.
        _refuse_handing_out(actor, policy.everywhere(set(codes) ^ set(role.permissions)))
        return _keeping_an_administrator(change)

    target = Target(id=role.pk or "", name=role.name or name)
    return perform(actor, "role.save", target=target, params=params, run=save)


def role_delete(*, actor, role):
    """Delete a custom role and every grant of it."""
    grants = role.grants.count()

    @transaction.atomic
    def delete():
        _refuse_builtin(role, "deleted")
        _refuse_handing_out(actor, policy.everywhere(role.codes()))
        _keeping_an_administrator(role.delete)

    return perform(
        actor, "role.delete", target=Target(id=role.pk, name=role.name),
        params={"name": role.name, "grants_removed": grants}, run=delete,
    )  # fmt: skip


def role_rows():
    """Every role with the actions it gives, grouped by target kind."""
    rows = []
    for role in Role.objects.all():
        groups = [
            (title, [a for a, on in actions if on]) for title, actions in permission_groups(role.codes())
        ]
        rows.append((role, [(title, actions) for title, actions in groups if actions]))
    return rows


def permission_groups(selected=()):
    """[(title, [(action, selected?)])] over the grantable actions, by target kind."""
    groups = {}
    for code in grantable_codes():
        action = REGISTRY[code]
        title = KIND_TITLES.get(action.target, action.target.capitalize() + "s")
        groups.setdefault(title, []).append((action, code in selected))
    return list(groups.items())


# --- grants ----------------------------------------------------------------------


def parse_label(text):
    """ "key=value" -> (key, value); empty -> ("", "")."""
    text = (text or "").strip()
    if not text:
        return "", ""
    key, sep, value = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise InvalidInput({"label": [f"A label is written key=value (for example team=web), not {text!r}."]})
    if len(key) > 255 or len(value) > 255:
        raise InvalidInput({"label": ["Label keys and values are at most 255 characters."]})
    return key, value.strip()


def find_grant(*, role, user=None, group=None, host=None, label=""):
    key, value = parse_label(label)
    return Grant.objects.filter(
        role=role, user=user, group=group, host=host, label_key=key, label_value=value
    ).first()


def _upper_first(text):
    return text[:1].upper() + text[1:]


def _grant_params(role, user, group, host, label):
    params = {"role": role.name}
    if user is not None:
        params["user"] = user.username
    if group is not None:
        params["group"] = group.name
    params["host"] = host.name if host is not None else "all hosts"
    if label:
        params["label"] = label
    return params


def grant_create(*, actor, role, user=None, group=None, host=None, label=""):
    """Give `role` to a user or a group, on one host or all, optionally only for
    containers carrying `label` ("key=value")."""
    label = (label or "").strip()
    params = _grant_params(role, user, group, host, label)
    holder = params.get("user") or params.get("group") or ""

    @transaction.atomic
    def create():
        if (user is None) == (group is None):
            raise InvalidInput({"holder": ["Choose a user or a group (one of them)."]})
        key, value = parse_label(label)
        grant = Grant(role=role, user=user, group=group, host=host, label_key=key, label_value=value)
        _refuse_handing_out(actor, policy.grant_power(grant, role.codes()))
        if find_grant(role=role, user=user, group=group, host=host, label=label):
            raise InvalidInput(f"{_upper_first(grant.holder)} already has {role} on {grant.where}.")
        grant.save()
        return grant

    return perform(
        actor, "grant.create", target=Target(name=f"{role.name} to {holder}"), params=params, run=create
    )


def grant_delete(*, actor, grant):
    label = f"{grant.label_key}={grant.label_value}" if grant.label_key else ""
    params = _grant_params(grant.role, grant.user, grant.group, grant.host, label)

    @transaction.atomic
    def delete():
        _refuse_handing_out(actor, policy.grant_power(grant, grant.role.codes()))
        if grant.user is not None:
            _refuse_out_of_reach(actor, grant.user)
        _keeping_an_administrator(grant.delete)

    return perform(actor, "grant.delete", target=Target(id=grant.pk, name=str(grant)), params=params, run=delete)


# --- selectors -------------------------------------------------------------------


def grants():
    return Grant.objects.select_related("role", "user", "group", "host").order_by(
        "user__username", "group__name", "role__name", "host__name"
    )


def users_with_grants(actor):
    """Users, each with `direct` grants and `via_groups` grants (of their groups), and
    `in_reach`: whether the actor's own power covers theirs (who they may change)."""
    users = list(User.objects.order_by("username").prefetch_related("groups"))
    rows = list(grants())
    for user in users:
        group_ids = {g.pk for g in user.groups.all()}
        user.direct = [g for g in rows if g.user_id == user.pk]
        user.via_groups = [g for g in rows if g.group_id in group_ids]
        user.in_reach = actor.system or not policy.outranks(user, actor.user)
    return users


def groups_with_members():
    return Group.objects.order_by("name").prefetch_related(
        Prefetch("user_set", queryset=User.objects.order_by("username")),
        Prefetch("wharf_grants", queryset=grants()),
    )


def effective_access(user):
    """The user's grants (own and through groups) and what they add up to (policy)."""
    held = grants().filter(Q(user=user) | Q(group__in=user.groups.all()))
    return {"grants": held, **policy.effective_access(user)}
