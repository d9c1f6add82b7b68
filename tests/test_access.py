"""Users, groups, roles and grants: the pages, the services behind them, the grant and
revoke commands, and the policy that interprets grants. No Docker daemon is needed:
hosts here are rows with a socket nothing connects to."""

import json

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import CommandError, call_command
from django.urls import reverse

from console.access import policy
from console.access.models import Grant, Role
from console.audit.models import AuditEntry
from console.catalog import REGISTRY, Action
from console.hosts.models import Host
from tests.conftest import PASSWORD

User = get_user_model()
STRONG = "a sturdy passphrase 9817"


def add_host(name):
    return Host.objects.create(name=name, url=f"unix:///nonexistent/{name}.sock")


def fresh(user):
    """The user as stored now (policy caches grants on the user object)."""
    return User.objects.get(pk=user.pk)


def state():
    """Everything these pages can change, to show a refused POST changed nothing."""
    return (
        sorted(User.objects.values_list("username", "email", "is_active", "password")),
        sorted((g.name, sorted(g.user_set.values_list("username", flat=True))) for g in Group.objects.all()),
        sorted(Role.objects.values_list("name", "description")),
        sorted((r.name, r.permissions) for r in Role.objects.all()),
        sorted(
            Grant.objects.values_list("role_id", "user_id", "group_id", "host_id", "label_key", "label_value")
        ),
    )


def entries(**filters):
    return list(AuditEntry.objects.filter(**filters))


@pytest.fixture
def code_for(monkeypatch):
    """The registered action for `code`, declared for this test if other work has not
    declared it yet (built-in roles pick it up by their rules)."""

    def get(code, label, target):
        action = REGISTRY.get(code) or Action(code, label, target)
        monkeypatch.setitem(REGISTRY, code, action)
        return action

    return get


@pytest.fixture
def stop(code_for):
    return code_for("container.stop", "stop containers", "container")


@pytest.fixture
def world(make_user):
    """A user in a group, a custom role, a host and a label-scoped grant."""
    bob = make_user("bob")
    ops = Group.objects.create(name="ops")
    ops.user_set.add(bob)
    deployer = Role.objects.create(name="Deployer", description="ships", permissions=["host.view"])
    h1 = add_host("h1")
    grant = Grant.objects.create(
        role=Role.objects.get(name="Developer"), user=bob, host=h1, label_key="team", label_value="web"
    )
    return {"user": bob, "group": ops, "role": deployer, "host": h1, "grant": grant}


def url(name, world, obj):
    return reverse(name, args=[world[obj].pk]) if obj else reverse(name)


PAGES = [
    ("access:users", None), ("access:user-add", None), ("access:user-edit", "user"),
    ("access:user-delete", "user"), ("access:user-access", "user"),
    ("access:groups", None), ("access:group-add", None), ("access:group-edit", "group"),
    ("access:group-delete", "group"),
    ("access:roles", None), ("access:role-add", None), ("access:role-edit", "role"),
    ("access:role-delete", "role"),
    ("access:grants", None), ("access:grant-revoke", "grant"),
]  # fmt: skip


@pytest.mark.parametrize("name,obj", PAGES)
def test_pages_open_for_admin(admin_client, world, name, obj):
    response = admin_client.get(url(name, world, obj))
    assert response.status_code == 200


@pytest.mark.parametrize("role", ["Developer", "Viewer", "Operator"])
@pytest.mark.parametrize("name,obj", PAGES)
def test_pages_refused_without_access_view(client, make_user, world, role, name, obj):
    client.force_login(make_user("someone", role=role))
    response = client.get(url(name, world, obj))
    assert response.status_code == 403
    assert "not allowed" in response.content.decode()


def test_nav_links_access_for_admin_only(client, admin_client, make_user):
    assert reverse("access:users") in admin_client.get(reverse("access:users")).content.decode()
    client.force_login(make_user("dev", role="Developer"))
    assert reverse("access:users") not in client.get(reverse("hosts:list")).content.decode()


def _posts(world):
    role = Role.objects.get(name="Viewer")
    return {
        "user.create": (
            "access:user-add",
            None,
            {"username": "mallory", "password": STRONG, "is_active": "on"},
        ),
        "user.update": ("access:user-edit", "user", {"username": "bob", "is_active": ""}),
        "user.delete": ("access:user-delete", "user", {}),
        "group.save": ("access:group-edit", "group", {"name": "ops", "members": []}),
        "group.delete": ("access:group-delete", "group", {}),
        "role.save": ("access:role-edit", "role", {"name": "Deployer", "permissions": ["user.create"]}),
        "role.delete": ("access:role-delete", "role", {}),
        "grant.create": ("access:grants", None, {"role": role.pk, "holder": f"user:{world['user'].pk}"}),
        "grant.delete": ("access:grant-revoke", "grant", {}),
    }


POST_CODES = [
    "user.create", "user.update", "user.delete", "group.save", "group.delete",
    "role.save", "role.delete", "grant.create", "grant.delete",
]  # fmt: skip


@pytest.mark.parametrize("valid", [True, False], ids=["valid", "garbage"])
@pytest.mark.parametrize("role", ["Developer", "Viewer"])
@pytest.mark.parametrize("code", POST_CODES)
def test_post_refused_and_recorded(client, make_user, world, role, code, valid):
    name, obj, data = _posts(world)[code]
    someone = make_user("someone", role=role)
    client.force_login(someone)
    before = state()
    response = client.post(url(name, world, obj), data if valid else {"username": "", "role": "x"})
    assert response.status_code == 403
    assert state() == before
    denied = entries(outcome="denied")
    assert len(denied) == 1
    assert (denied[0].action, denied[0].actor_name) == (code, "someone")
    assert not entries(outcome="succeeded", action=code)


def test_post_to_missing_object_by_viewer_is_refused_not_404(client, make_user):
    client.force_login(make_user("someone", role="Viewer"))
    response = client.post(reverse("access:user-delete", args=[9999]))
    assert response.status_code == 403
    assert [(e.action, e.target_id) for e in entries(outcome="denied")] == [("user.delete", "9999")]


# --- users -----------------------------------------------------------------------


def test_user_create_with_weak_password_shows_the_rules(admin_client):
    response = admin_client.post(reverse("access:user-add"), {"username": "carol", "password": "1234"})
    page = response.content.decode()
    assert response.status_code == 400
    assert "This password is too short" in page
    assert "This password is entirely numeric" in page
    assert not User.objects.filter(username="carol").exists()
    (failed,) = entries(action="user.create")
    assert failed.outcome == "failed" and "too short" in failed.error
    assert failed.params["password"] == "[redacted]" and "1234" not in json.dumps(failed.params)


def test_user_create_with_groups(admin_client):
    ops = Group.objects.create(name="ops")
    response = admin_client.post(
        reverse("access:user-add"),
        {
            "username": "carol",
            "email": "carol@example.com",
            "password": STRONG,
            "is_active": "on",
            "groups": [ops.pk],
        },
    )
    assert response.status_code == 302
    carol = User.objects.get(username="carol")
    assert carol.check_password(STRONG) and carol.is_active
    assert list(carol.groups.all()) == [ops]
    (entry,) = entries(action="user.create")
    assert entry.outcome == "succeeded"
    assert entry.params == {
        "username": "carol", "email": "carol@example.com", "is_active": True,
        "groups": ["ops"], "password": "[redacted]",
    }  # fmt: skip
    assert STRONG not in json.dumps(entry.params)


def test_user_create_duplicate_name_shown_next_to_field(admin_client, make_user):
    make_user("carol")
    response = admin_client.post(reverse("access:user-add"), {"username": "carol", "password": STRONG})
    assert response.status_code == 400
    assert "already exists" in response.content.decode()
    assert response.context["form"].errors["username"]


def test_user_update_deactivates_and_changes_password(admin_client, make_user):
    carol = make_user("carol")
    ops = Group.objects.create(name="ops")
    response = admin_client.post(
        reverse("access:user-edit", args=[carol.pk]),
        {"username": "carol", "email": "", "password": STRONG, "groups": [ops.pk]},
    )
    assert response.status_code == 302
    carol = fresh(carol)
    assert not carol.is_active and carol.check_password(STRONG)
    (entry,) = entries(action="user.update")
    assert entry.params == {
        "username": "carol", "is_active": False, "groups_added": ["ops"], "groups_removed": [],
        "password": "[redacted]",
    }  # fmt: skip


def test_user_update_keeps_password_when_empty(admin_client, make_user):
    carol = make_user("carol")
    admin_client.post(reverse("access:user-edit", args=[carol.pk]), {"username": "carol", "is_active": "on"})
    assert fresh(carol).check_password(PASSWORD)
    assert "password" not in entries(action="user.update")[0].params


def test_admin_cannot_delete_or_deactivate_themselves(admin_client, admin_user):
    response = admin_client.post(reverse("access:user-delete", args=[admin_user.pk]))
    assert response.status_code == 400
    assert "cannot delete your own account" in response.content.decode()
    response = admin_client.post(reverse("access:user-edit", args=[admin_user.pk]), {"username": "admin"})
    assert "cannot deactivate your own account" in response.content.decode()
    assert fresh(admin_user).is_active


def test_user_delete(admin_client, world):
    bob = world["user"]
    assert admin_client.post(reverse("access:user-delete", args=[bob.pk])).status_code == 302
    assert not User.objects.filter(pk=bob.pk).exists()
    assert not Grant.objects.filter(pk=world["grant"].pk).exists()
    assert entries(action="user.delete")[0].params == {"username": "bob"}


def test_users_list_summarizes_grants(admin_client, world):
    Grant.objects.create(role=Role.objects.get(name="Viewer"), group=world["group"])
    page = admin_client.get(reverse("access:users")).content.decode()
    assert "team=web" in page
    assert "via group ops" in page


# --- groups ----------------------------------------------------------------------


def test_group_create_edit_delete(admin_client, make_user):
    ann, ben = make_user("ann"), make_user("ben")
    admin_client.post(reverse("access:group-add"), {"name": "ops", "members": [ann.pk]})
    ops = Group.objects.get(name="ops")
    assert list(ops.user_set.all()) == [ann]
    admin_client.post(reverse("access:group-edit", args=[ops.pk]), {"name": "sre", "members": [ben.pk]})
    ops.refresh_from_db()
    assert ops.name == "sre" and list(ops.user_set.all()) == [ben]
    assert entries(action="group.save")[0].params == {
        "name": "sre", "renamed_from": "ops", "members_added": ["ben"], "members_removed": ["ann"],
    }  # fmt: skip
    Grant.objects.create(role=Role.objects.get(name="Viewer"), group=ops)
    assert (
        "1 grant(s) go with it"
        in admin_client.get(reverse("access:group-delete", args=[ops.pk])).content.decode()
    )
    admin_client.post(reverse("access:group-delete", args=[ops.pk]))
    assert not Group.objects.exists() and not Grant.objects.filter(group__isnull=False).exists()


def test_a_user_gets_the_grants_of_their_own_groups_each_once(make_user):
    ann, ben = make_user("ann", role="Viewer"), make_user("ben")
    ops, web, other = (Group.objects.create(name=n) for n in ("ops", "web", "other"))
    ann.groups.add(ops, web)
    ben.groups.add(other)
    role = Role.objects.get(name="Operator")
    via_ops, via_web = (Grant.objects.create(role=role, group=g) for g in (ops, web))
    Grant.objects.create(role=role, group=other)
    ann_grants = [grant for grant, _codes in policy.grants_of(ann)]
    assert sorted(g.pk for g in ann_grants) == sorted([Grant.objects.get(user=ann).pk, via_ops.pk, via_web.pk])
    assert [g.group for g, _codes in policy.grants_of(ben)] == [other]


def test_group_duplicate_name(admin_client):
    Group.objects.create(name="ops")
    response = admin_client.post(reverse("access:group-add"), {"name": "ops"})
    assert response.status_code == 400 and response.context["form"].errors["name"]


# --- roles -----------------------------------------------------------------------


def test_role_create_and_edit_with_checkboxes(admin_client):
    page = admin_client.get(reverse("access:role-add")).content.decode()
    assert 'name="permissions" value="host.view"' in page
    assert "auth.login" not in page  # events are not permissions
    response = admin_client.post(
        reverse("access:role-add"),
        {"name": "Auditor", "description": "reads the trail", "permissions": ["audit.view", "host.view"]},
    )
    assert response.status_code == 302
    role = Role.objects.get(name="Auditor")
    assert role.permissions == ["audit.view", "host.view"] and not role.builtin
    assert role.codes() == {"audit.view", "host.view"}

    page = admin_client.get(reverse("access:role-edit", args=[role.pk])).content.decode()
    assert 'value="audit.view" checked' in page and 'value="audit.export" checked' not in page
    admin_client.post(
        reverse("access:role-edit", args=[role.pk]),
        {"name": "Auditor", "description": "", "permissions": ["audit.view", "audit.export"]},
    )
    role.refresh_from_db()
    assert role.permissions == ["audit.export", "audit.view"]
    entry = entries(action="role.save")[0]
    assert entry.params["permissions_added"] == ["audit.export"]
    assert entry.params["permissions_removed"] == ["host.view"]


def test_role_with_unknown_permission_is_refused_next_to_field(admin_client):
    response = admin_client.post(reverse("access:role-add"), {"name": "X", "permissions": ["auth.login"]})
    assert response.status_code == 400 and response.context["form"].errors["permissions"]
    assert not Role.objects.filter(name="X").exists()


def test_builtin_role_is_shown_read_only_and_refused(admin_client):
    developer = Role.objects.get(name="Developer")
    page = admin_client.get(reverse("access:role-edit", args=[developer.pk])).content.decode()
    assert "cannot be changed" in page and 'name="permissions"' not in page
    response = admin_client.post(
        reverse("access:role-edit", args=[developer.pk]),
        {"name": "Developer", "permissions": ["user.create"]},
    )
    assert response.status_code == 400
    assert "Developer is a built-in role" in response.content.decode()
    developer.refresh_from_db()
    assert developer.permissions == [] and "user.create" not in developer.codes()
    response = admin_client.post(reverse("access:role-delete", args=[developer.pk]))
    assert "Developer is a built-in role" in response.content.decode()
    assert Role.objects.filter(name="Developer").exists()
    assert {e.outcome for e in entries(action__in=["role.save", "role.delete"])} == {"failed"}


def test_roles_list_shows_builtin_codes(admin_client):
    page = admin_client.get(reverse("access:roles")).content.decode()
    assert "host.view" in page and "(built-in)" in page


def test_role_delete_takes_its_grants(admin_client, world):
    role = world["role"]
    Grant.objects.create(role=role, user=world["user"])
    page = admin_client.get(reverse("access:role-delete", args=[role.pk])).content.decode()
    assert "revoked with it" in page
    admin_client.post(reverse("access:role-delete", args=[role.pk]))
    assert not Role.objects.filter(pk=role.pk).exists() and not Grant.objects.filter(role_id=role.pk).exists()
    assert entries(action="role.delete")[0].params == {"name": "Deployer", "grants_removed": 1}


# --- grants ----------------------------------------------------------------------


def test_grant_create_and_revoke_through_the_page(admin_client, world):
    bob, h1 = world["user"], world["host"]
    viewer = Role.objects.get(name="Viewer")
    data = {"role": viewer.pk, "holder": f"user:{bob.pk}", "host": h1.pk, "label": "team = api"}
    assert admin_client.post(reverse("access:grants"), data).status_code == 302
    grant = Grant.objects.get(role=viewer, user=bob)
    assert (grant.host, grant.label_key, grant.label_value) == (h1, "team", "api")
    assert entries(action="grant.create")[0].params == {
        "role": "Viewer", "user": "bob", "host": "h1", "label": "team=api",
    }  # fmt: skip

    response = admin_client.post(reverse("access:grants"), data)
    assert response.status_code == 400
    assert (
        "User bob already has Viewer on host h1, containers labelled team=api." in response.content.decode()
    )
    assert Grant.objects.filter(role=viewer).count() == 1

    assert admin_client.post(reverse("access:grant-revoke", args=[grant.pk])).status_code == 302
    assert not Grant.objects.filter(pk=grant.pk).exists()
    assert entries(action="grant.delete")[0].params["label"] == "team=api"


def test_grant_to_group_on_all_hosts(admin_client, world):
    data = {"role": world["role"].pk, "holder": f"group:{world['group'].pk}", "host": "", "label": ""}
    admin_client.post(reverse("access:grants"), data)
    grant = Grant.objects.get(group=world["group"])
    assert grant.host is None and grant.label_key == ""


def test_grant_with_malformed_label_shows_message_next_to_field(admin_client, world):
    data = {"role": world["role"].pk, "holder": f"user:{world['user'].pk}", "label": "teamweb"}
    response = admin_client.post(reverse("access:grants"), data)
    assert response.status_code == 400
    assert "key=value" in response.context["form"].errors["label"][0]
    assert not Grant.objects.filter(role=world["role"]).exists()


# --- commands --------------------------------------------------------------------


def run(*args):
    from io import StringIO

    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_grant_and_revoke_commands(world):
    assert "Granted Viewer to user bob on host h1" in run("grant", "bob", "Viewer", "--host", "h1")
    assert "Already granted" in run("grant", "bob", "Viewer", "--host", "h1")
    assert Grant.objects.filter(role__name="Viewer", user=world["user"]).count() == 1
    (entry,) = entries(action="grant.create")
    assert entry.actor_name == "system (manage.py grant)" and entry.params["host"] == "h1"
    assert "Revoked" in run("revoke", "bob", "Viewer", "--host", "h1")
    assert not Grant.objects.filter(role__name="Viewer").exists()
    assert entries(action="grant.delete")[0].actor_name == "system (manage.py revoke)"


def test_grant_command_with_label_and_group(world):
    run("grant", "ops", "Developer", "--group", "--label", "team=web")
    grant = Grant.objects.get(group=world["group"])
    assert (grant.host, grant.label_key, grant.label_value) == (None, "team", "web")
    with pytest.raises(CommandError, match="has no grant of Developer on all hosts"):
        run("revoke", "ops", "Developer", "--group")
    run("revoke", "ops", "Developer", "--group", "--label", "team=web")
    assert not Grant.objects.filter(group=world["group"]).exists()


@pytest.mark.parametrize(
    "args,message",
    [
        (["nobody", "Viewer"], "No user named 'nobody'"),
        (["ops", "Viewer"], "add --group"),
        (["nobody", "Viewer", "--group"], "No group named 'nobody'"),
        (["bob", "Boss"], "No role named 'Boss'. Roles: Admin"),
        (["bob", "Viewer", "--host", "nowhere"], "No host named 'nowhere'. Hosts: h1"),
        (["bob", "Viewer", "--label", "teamweb"], "key=value"),
        (["bob", "Viewer", "--label", "=web"], "key=value"),
    ],
)
@pytest.mark.parametrize("command", ["grant", "revoke"])
def test_commands_explain_bad_arguments(world, command, args, message):
    with pytest.raises(CommandError, match=message):
        run(command, *args)


# --- effective access ------------------------------------------------------------


def test_effective_access_page_marks_label_scoped_rows(admin_client, world, stop, code_for):
    code_for("image.view", "see images", "image")
    bob = world["user"]
    h2 = add_host("h2")
    Grant.objects.create(role=Role.objects.get(name="Viewer"), user=bob, host=h2)
    response = admin_client.get(reverse("access:user-access", args=[bob.pk]))
    page = response.content.decode()
    hosts = dict(response.context["hosts"])
    on_h1 = {a.code: pairs for a, pairs in hosts[world["host"]]}
    assert on_h1["container.stop"] == [("team", "web")]
    assert on_h1["host.view"] == []
    assert on_h1["image.view"] == []  # images belong to the host: a labelled grant reads them all
    on_h2 = {a.code: pairs for a, pairs in hosts[h2]}
    assert on_h2["image.view"] == [] and "container.stop" not in on_h2
    assert 'data-action="container.stop" class="label-scoped"' in page
    assert "only containers labelled <code>team=web</code>" in page
    assert response.context["console"] == []


# --- policy ----------------------------------------------------------------------


@pytest.fixture
def two_hosts(db):
    return add_host("h1"), add_host("h2")


def grant(role, host=None, label="", **holder):
    key, _, value = label.partition("=")
    return Grant.objects.create(
        role=Role.objects.get(name=role), host=host, label_key=key, label_value=value, **holder
    )


def test_user_and_group_grants_add_up(make_user, two_hosts, code_for):
    remove = code_for("image.remove", "remove images", "image")
    view = REGISTRY["host.view"]
    h1, h2 = two_hosts
    ann = make_user("ann", role="Viewer", host=h1)
    ops = Group.objects.create(name="ops")
    ops.user_set.add(ann)
    grant("Operator", h2, group=ops)
    ann = fresh(ann)
    assert policy.permits(ann, view, h1) and policy.permits(ann, view, h2)
    assert policy.permits(ann, remove, h2)  # through the group
    assert not policy.permits(ann, remove, h1)  # Viewer only, there
    assert set(policy.visible_hosts(ann)) == {h1, h2}


def test_host_scoped_and_all_hosts_grants(make_user, two_hosts):
    view = REGISTRY["host.view"]
    h1, h2 = two_hosts
    ann = make_user("ann", role="Viewer", host=h1)
    assert policy.permits(ann, view, h1) and not policy.permits(ann, view, h2)
    assert list(policy.visible_hosts(ann)) == [h1]
    ben = make_user("ben", role="Viewer")
    assert policy.permits(ben, view, h1) and policy.permits(ben, view, h2)
    assert set(policy.visible_hosts(ben)) == {h1, h2}


def test_label_scoped_grant(make_user, two_hosts, stop, code_for):
    image_view = code_for("image.view", "see images", "image")
    h1, h2 = two_hosts
    ann = make_user("ann", role="Developer", host=h1, label="team=web")
    assert policy.permits(ann, stop, h1, {"team": "web", "other": "x"})
    assert not policy.permits(ann, stop, h1, {"team": "api"})
    assert not policy.permits(ann, stop, h1, {})
    assert not policy.permits(ann, stop, h1)  # labels unknown: not covered
    assert not policy.permits(ann, stop, h2, {"team": "web"})  # other host
    assert policy.permits(ann, REGISTRY["host.view"], h1)
    assert policy.permits(ann, image_view, h1)  # reads of the host's images, never changes
    assert policy.needs_labels(ann, stop, h1)
    assert policy.label_filter(ann, stop, h1) == [("team", "web")]
    assert policy.label_filter(ann, image_view, h1) is None  # the whole host's images
    assert list(policy.visible_hosts(ann)) == [h1]


def test_unscoped_grant_beats_label_grant(make_user, two_hosts, stop):
    h1, _ = two_hosts
    ann = make_user("ann", role="Developer", host=h1, label="team=web")
    grant("Developer", h1, user=ann)
    ann = fresh(ann)
    assert policy.permits(ann, stop, h1, {"team": "api"})
    assert not policy.needs_labels(ann, stop, h1)
    assert policy.label_filter(ann, stop, h1) is None


def test_global_actions_need_an_unscoped_grant(make_user, two_hosts):
    create = REGISTRY["user.create"]
    h1, _ = two_hosts
    on_host = make_user("ann", role="Admin", host=h1)
    labelled = make_user("ben", role="Admin", label="team=web")
    everywhere = make_user("cid", role="Admin")
    assert not policy.permits(on_host, create)
    assert not policy.permits(labelled, create)
    assert policy.permits(everywhere, create)
    custom = Role.objects.create(name="Usermaker", permissions=["user.create"])
    dan = make_user("dan")
    Grant.objects.create(role=custom, user=dan)
    assert policy.permits(dan, create) and not policy.permits(dan, REGISTRY["user.delete"])


def test_inactive_user_is_denied_everything(make_user, two_hosts, stop):
    h1, _ = two_hosts
    ann = make_user("ann", role="Admin")
    ann.is_active = False
    ann.save()
    ann = fresh(ann)
    assert not policy.permits(ann, REGISTRY["user.create"])
    assert not policy.permits(ann, REGISTRY["host.view"], h1)
    assert not policy.permits(ann, stop, h1, {})
    assert policy.label_filter(ann, stop, h1) == []
    assert not policy.visible_hosts(ann).exists()
    root = make_user("root", superuser=True)
    root.is_active = False
    assert not policy.permits(root, REGISTRY["user.create"])


def test_custom_role_permissions_ignore_unknown_codes(db):
    role = Role.objects.create(name="Odd", permissions=["host.view", "no.such"])
    assert role.codes() == {"host.view"}
