"""Who may change whom: nobody changes the account of someone with access they do not
hold, nobody hands out access they do not hold (grants, roles, group members), and the
last administrator stays. Each refusal is a denial on the record."""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import CommandError, call_command

from console.access import services
from console.access.models import Grant, Role
from console.audit.models import AuditEntry
from console.errors import ActionDenied
from console.hosts.models import Host
from tests.conftest import PASSWORD, actor_for

User = get_user_model()
STRONG = "a sturdy passphrase 9817"


@pytest.fixture
def manager(make_user):
    """Mallory manages users, groups, roles and grants, and holds nothing else."""
    codes = ["access.view", "user.create", "user.update", "user.delete", "group.save", "group.delete",
             "role.save", "role.delete", "grant.create", "grant.delete"]  # fmt: skip
    role = Role.objects.create(name="User manager", permissions=codes)
    mallory = make_user("mallory")
    Grant.objects.create(role=role, user=mallory)
    return mallory


def fresh(user):
    return User.objects.get(pk=user.pk)


def denied(code, actor_name="mallory"):
    return AuditEntry.objects.filter(action=code, outcome="denied", actor_name=actor_name)


def test_a_user_manager_cannot_take_over_the_admin(client, manager, admin_user):
    client.force_login(manager)
    before = fresh(admin_user).password
    response = client.post(
        f"/access/users/{admin_user.pk}/", {"username": "admin", "password": STRONG, "is_active": "on"}
    )
    assert response.status_code == 403
    assert "access you do not have" in response.content.decode()
    assert fresh(admin_user).password == before
    entry = denied("user.update").get()
    assert entry.target_name == "admin" and entry.params["password"] == "[redacted]"
    assert STRONG not in str(entry.params)


@pytest.mark.parametrize("superuser", [False, True])
def test_out_of_reach_accounts_cannot_be_changed_or_deleted(manager, make_user, superuser):
    target = make_user("boss", role=None if superuser else "Viewer", superuser=superuser)
    actor = actor_for(manager)
    with pytest.raises(ActionDenied):
        services.user_update(actor=actor, user=target, username="boss", password=STRONG)
    with pytest.raises(ActionDenied):
        services.user_update(actor=actor, user=target, username="boss", is_active=False)
    with pytest.raises(ActionDenied):
        services.user_delete(actor=actor, user=target)
    assert fresh(target).check_password(PASSWORD) and fresh(target).is_active
    assert denied("user.update").count() == 2 and denied("user.delete").count() == 1


def test_accounts_within_reach_can_be_changed(manager, make_user):
    plain = make_user("newcomer")
    actor = actor_for(manager)
    services.user_update(actor=actor, user=plain, username="newcomer", password=STRONG)
    assert fresh(plain).check_password(STRONG)
    services.user_update(actor=actor, user=fresh(manager), username="mallory", password=STRONG)  # herself
    services.user_delete(actor=actor, user=plain)
    assert not User.objects.filter(username="newcomer").exists()


def test_an_admin_can_change_another_admin(make_user, admin_user):
    other = make_user("second", role="Admin")
    services.user_update(actor=actor_for(admin_user), user=other, username="second", password=STRONG)
    assert fresh(other).check_password(STRONG)


def test_no_joining_a_group_with_more_access(manager, make_user):
    admins = Group.objects.create(name="admins")
    Grant.objects.create(role=Role.objects.get(name="Admin"), group=admins)
    actor = actor_for(manager)
    with pytest.raises(ActionDenied):  # through the group's members
        services.group_save(actor=actor, group=admins, name="admins", members=[manager])
    with pytest.raises(ActionDenied):  # through her own groups
        services.user_update(actor=actor, user=fresh(manager), username="mallory", groups=[admins])
    with pytest.raises(ActionDenied):  # a new account in that group
        services.user_create(actor=actor, username="sock", password=STRONG, groups=[admins])
    assert not admins.user_set.exists() and not User.objects.filter(username="sock").exists()
    assert [e.action for e in denied("group.save")] == ["group.save"]
    services.group_save(actor=actor, group=admins, name="administrators")  # renaming changes no access


def test_no_removing_someone_stronger_from_a_group(manager, make_user):
    boss = make_user("boss")
    crew = Group.objects.create(name="crew")
    crew.user_set.add(boss)
    Grant.objects.create(role=Role.objects.get(name="Viewer"), user=boss)
    with pytest.raises(ActionDenied):
        services.group_save(actor=actor_for(manager), group=crew, name="crew", members=[])
    with pytest.raises(ActionDenied):
        services.group_delete(actor=actor_for(manager), group=crew)
    assert list(crew.user_set.all()) == [boss]


def test_no_granting_what_one_does_not_hold(manager, make_user):
    host = Host.objects.create(name="h1", url="unix:///nonexistent/h1.sock")
    actor = actor_for(manager)
    with pytest.raises(ActionDenied):
        services.grant_create(actor=actor, role=Role.objects.get(name="Admin"), user=manager)
    with pytest.raises(ActionDenied):
        services.grant_create(actor=actor, role=Role.objects.get(name="Viewer"), user=manager, host=host)
    assert denied("grant.create").count() == 2 and Grant.objects.filter(user=manager).count() == 1
    # What she holds, she may pass on.
    services.grant_create(actor=actor, role=Role.objects.get(name="User manager"), user=make_user("deputy"))


def test_a_label_scoped_grant_does_not_widen(make_user):
    host = Host.objects.create(name="h1", url="unix:///nonexistent/h1.sock")
    role = Role.objects.create(name="Granter", permissions=["grant.create"])
    lead = make_user("lead", role="Operator", host=host, label="team=a")
    Grant.objects.create(role=role, user=lead)
    operator, actor = Role.objects.get(name="Operator"), actor_for(lead)
    services.grant_create(actor=actor, role=operator, user=make_user("dev"), host=host, label="team=a")
    for label in ("", "team=b"):
        with pytest.raises(ActionDenied):
            services.grant_create(actor=actor, role=operator, user=fresh(lead), host=host, label=label)


def test_no_putting_into_a_role_what_one_does_not_hold(manager):
    role = Role.objects.get(name="User manager")
    actor = actor_for(manager)
    with pytest.raises(ActionDenied):
        services.role_save(
            actor=actor, role=role, name=role.name, permissions=[*role.permissions, "host.delete"]
        )
    with pytest.raises(ActionDenied):
        services.role_save(actor=actor, name="Sneaky", permissions=["container.run"])
    assert "host.delete" not in Role.objects.get(pk=role.pk).permissions
    assert not Role.objects.filter(name="Sneaky").exists() and denied("role.save").count() == 2
    services.role_save(actor=actor, name="Helpdesk", permissions=["access.view", "user.update"])


def test_no_deleting_a_role_one_does_not_hold(manager):
    deployer = Role.objects.create(name="Deployer", permissions=["container.run"])
    with pytest.raises(ActionDenied):
        services.role_delete(actor=actor_for(manager), role=deployer)
    assert Role.objects.filter(pk=deployer.pk).exists()


def test_the_last_administrator_stays(make_user, admin_user):
    second = make_user("second", role="Admin")
    actor = actor_for(admin_user)
    services.grant_delete(actor=actor, grant=Grant.objects.get(user=second))  # another one is left
    with pytest.raises(ActionDenied, match="no administrator"):
        services.grant_delete(actor=actor, grant=Grant.objects.get(user=admin_user))
    with pytest.raises(ActionDenied, match="not allowed"):  # no longer an admin
        services.grant_delete(actor=actor_for(fresh(second)), grant=Grant.objects.get(user=admin_user))
    assert Grant.objects.filter(user=admin_user).exists()
    assert denied("grant.delete", "admin").count() == 1


def test_the_last_administrator_stays_through_groups(make_user):
    admins = Group.objects.create(name="admins")
    Grant.objects.create(role=Role.objects.get(name="Admin"), group=admins)
    alice, bob = make_user("alice"), make_user("bob")
    admins.user_set.add(alice, bob)
    actor = actor_for(alice)
    services.user_update(
        actor=actor, user=bob, username="bob", is_active=False, groups=[admins]
    )  # alice is left
    with pytest.raises(ActionDenied, match="no administrator"):
        services.group_delete(actor=actor, group=Group.objects.get(name="admins"))
    with pytest.raises(ActionDenied, match="no administrator"):
        services.group_save(actor=actor, group=Group.objects.get(name="admins"), name="admins", members=[bob])
    assert list(Group.objects.get(name="admins").user_set.order_by("username")) == [alice, bob]


def test_manage_py_revoke_keeps_the_last_administrator_too(admin_user):
    with pytest.raises(CommandError, match="no administrator"):
        call_command("revoke", "admin", "Admin")
    assert Grant.objects.filter(user=admin_user).exists()
    assert AuditEntry.objects.get(action="grant.delete").outcome == "denied"


def test_the_user_list_offers_edit_and_delete_only_within_reach(client, manager, make_user, admin_user):
    make_user("newcomer")
    client.force_login(manager)
    html = client.get("/access/users/").content.decode()
    row = {name: html.split(f'data-user="{name}"')[1].split("</tr>")[0] for name in ("admin", "newcomer")}
    assert f"/access/users/{admin_user.pk}/delete/" not in row["admin"] and "not yours to change" in row["admin"]
    newcomer = User.objects.get(username="newcomer")
    assert f"/access/users/{newcomer.pk}/delete/" in row["newcomer"] and "not yours to change" not in row["newcomer"]
