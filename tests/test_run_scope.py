"""What a run or a commit may reach besides its own container (issue 7, items 1 and 2).

A grant limited to labelled containers never reaches the host (privileged, host
namespaces, bind mounts, devices, capabilities, low host ports), the built-in Operator
does not either, and nobody takes what others share on the host: their named volumes,
a fixed host port (label-scoped runners), an existing image tag (label-scoped commits).
"""

import docker.errors
import pytest

from console.access.models import Grant, Role
from console.audit.models import AuditEntry
from console.containers import run_services
from console.errors import ActionDenied
from tests.conftest import actor_for
from tests.harness import TEST_IMAGE
from tests.test_container_run import names_on, run_data, unique

EVERYTHING = [
    "host.view", "container.view", "container.run", "container.run_privileged", "container.files",
    "container.commit",
]  # fmt: skip
HOST_ACCESS = pytest.mark.parametrize(
    "fields",
    [{"privileged": "on"}, {"pid_host": "on"}, {"volumes": "/etc:/host-etc:ro"}, {"volumes": "/:/host"},
     {"network": "host"}, {"cap_add": "SYS_ADMIN"}, {"devices": "/dev/null"}],
    ids=["privileged", "pid-host", "bind-etc", "bind-root", "host-network", "cap-add", "device"],
)  # fmt: skip


def user_with(make_user, hosts, name, role, label=None):
    """A user granted `role` (a built-in name, or a list of action codes) on unix-1."""
    user = make_user(name)
    if isinstance(role, list):
        role = Role.objects.create(name=f"{name}-role", permissions=role)
    else:
        role = Role.objects.get(name=role)
    key, _, value = (label or "").partition("=")
    Grant.objects.create(user=user, role=role, host=hosts["unix-1"], label_key=key, label_value=value)
    return user


def denials(user):
    return list(AuditEntry.objects.filter(actor_name=user.username, outcome="denied").values_list("action", "error"))


def post_run(client, user, **fields):
    client.force_login(user)
    return client.post("/hosts/unix-1/run/", run_data(**fields))


# --- item 1: a label never reaches the host ---------------------------------------


@HOST_ACCESS
@pytest.mark.parametrize("role", ["Operator", EVERYTHING], ids=["operator", "custom-with-run-privileged"])
def test_a_label_scoped_grant_never_reaches_the_host(client, make_user, hosts, docker_of, fields, role):
    user = user_with(make_user, hosts, "team-a", role, label="team=a")
    before = names_on(docker_of("unix-1"))
    response = post_run(client, user, command="cat /host-etc/shadow", labels="team=a", **fields)
    assert response.status_code == 403, response.content.decode()
    assert "access to their host" in response.content.decode()
    assert [a for a, _ in denials(user)] == ["container.run_privileged"]
    assert not AuditEntry.objects.filter(actor_name="team-a", action__startswith="container.").exclude(outcome="denied").exists()
    assert names_on(docker_of("unix-1")) == before


def test_the_builtin_operator_has_no_host_access_even_on_the_whole_host(client, make_user, hosts, docker_of):
    user = user_with(make_user, hosts, "operator", "Operator")
    before = names_on(docker_of("unix-1"))
    assert post_run(client, user, command="true", volumes="/etc:/host-etc:ro").status_code == 403
    assert [a for a, _ in denials(user)] == ["container.run_privileged"]
    assert names_on(docker_of("unix-1")) == before


def test_run_privileged_granted_on_the_whole_host_binds_host_folders(client, make_user, hosts, docker_of, tmp_path):
    user = user_with(make_user, hosts, "trusted", EVERYTHING)
    (tmp_path / "note.txt").write_text("host file\n")
    name = unique()
    docker_of.made.append(("unix-1", name))
    response = post_run(client, user, name=name, command="cat /mnt/note.txt", mode="oneshot",
                        volumes=f"{tmp_path}:/mnt:ro")  # fmt: skip
    assert "host file" in response.content.decode()
    entry = AuditEntry.objects.get(actor_name="trusted", action__startswith="container.")
    assert (entry.action, entry.outcome) == ("container.run_privileged", "succeeded")


@pytest.mark.parametrize("network", ["container:anything", "some-network"])
def test_joining_another_network_namespace_is_host_access(make_user, hosts, network):
    user = user_with(make_user, hosts, "runner", ["host.view", "container.run", "container.files"])
    spec = run_services.RunSpec(image=TEST_IMAGE, command=["true"], network=network)
    with pytest.raises(ActionDenied):
        run_services.container_run(actor=actor_for(user), host=hosts["unix-1"], spec=spec)
    assert [a for a, _ in denials(user)] == ["container.run_privileged"]


def test_the_form_offers_no_other_network(client, make_user, hosts, docker_of):
    user = user_with(make_user, hosts, "runner", "Operator")
    response = post_run(client, user, command="true", network="container:x")
    assert response.status_code == 400 and "Select a valid choice" in response.content.decode()


# --- item 2: what is shared on the host -------------------------------------------


@pytest.fixture
def team_b_volume(docker_of):
    """A named volume of team b, holding a secret, mounted by a team b container."""
    api = docker_of("unix-1").api
    volume = unique("vol-b")
    api.create_volume(volume, labels={"team": "b"})
    holder = unique("holder-b")
    docker_of.made.append(("unix-1", holder))
    api.create_container(TEST_IMAGE, ["sh", "-c", "echo s3cret > /data/key"], name=holder, labels={"team": "b"},
                         network_disabled=True, host_config=api.create_host_config(binds=[f"{volume}:/data"]))  # fmt: skip
    api.start(holder)
    api.wait(holder, timeout=30)
    yield volume
    for c in api.containers(all=True, filters={"volume": volume}):
        api.remove_container(c["Id"], force=True)
    api.remove_volume(volume, force=True)


def volume_key(docker_of, volume):
    output = docker_of("unix-1").containers.run(
        TEST_IMAGE, ["cat", "/data/key"], volumes=[f"{volume}:/data:ro"], network_disabled=True, remove=True
    )
    return output.decode().strip()


@pytest.mark.parametrize("role", ["Operator", ["host.view", "container.view", "container.run"]],
                         ids=["label-scoped-operator", "host-wide-run-only"])  # fmt: skip
def test_another_teams_volume_is_refused(client, make_user, hosts, docker_of, team_b_volume, role):
    label = "team=a" if role == "Operator" else None
    user = user_with(make_user, hosts, "taker", role, label=label)
    before = names_on(docker_of("unix-1"))
    response = post_run(client, user, command="sh -c 'echo owned > /data/key'", labels="team=a",
                        volumes=f"{team_b_volume}:/data")  # fmt: skip
    assert response.status_code == 403
    assert f"The volume {team_b_volume} holds files you may not see" in response.content.decode()
    assert denials(user) == [("container.run", f"The volume {team_b_volume} holds files you may not see: "
                                               "give a new name to make a volume of your own.")]  # fmt: skip
    assert names_on(docker_of("unix-1")) == before
    assert volume_key(docker_of, team_b_volume) == "s3cret"


def test_a_host_wide_operator_may_use_any_volume(client, make_user, hosts, docker_of, team_b_volume):
    user = user_with(make_user, hosts, "operator", "Operator")
    name = unique()
    docker_of.made.append(("unix-1", name))
    response = post_run(client, user, name=name, command="cat /data/key", mode="oneshot",
                        volumes=f"{team_b_volume}:/data:ro")  # fmt: skip
    assert "s3cret" in response.content.decode()


def test_a_new_volume_is_made_with_the_runners_labels_and_stays_theirs(client, make_user, hosts, docker_of):
    user = user_with(make_user, hosts, "team-a", "Operator", label="team=a")
    api = docker_of("unix-1").api
    volume = unique("vol-a")
    try:
        for text in ("first", "second"):
            name = unique()
            docker_of.made.append(("unix-1", name))
            response = post_run(client, user, name=name, command=f"sh -c 'echo {text} >> /data/log; cat /data/log'",
                                mode="oneshot", labels="team=a", volumes=f"{volume}:/data")  # fmt: skip
            assert response.status_code == 200, response.content.decode()
        assert "first\nsecond\n" in response.content.decode()
        assert api.inspect_volume(volume)["Labels"] == {"team": "a"}
        assert denials(user) == []
    finally:
        for name in [n for h, n in docker_of.made]:
            try:
                api.remove_container(name, force=True)
            except docker.errors.NotFound:
                pass
        api.remove_volume(volume, force=True)


def test_a_label_scoped_runner_lets_docker_pick_the_host_port(client, make_user, hosts, docker_of):
    user = user_with(make_user, hosts, "team-a", "Operator", label="team=a")
    before = names_on(docker_of("unix-1"))
    response = post_run(client, user, command="true", labels="team=a", network="", ports="127.0.0.1:18080:80")
    assert response.status_code == 403
    assert "leave the host port empty" in response.content.decode()
    assert [a for a, _ in denials(user)] == ["container.run"]
    assert names_on(docker_of("unix-1")) == before
    name = unique()
    docker_of.made.append(("unix-1", name))
    post_run(client, user, name=name, command="true", labels="team=a", network="", ports="80")
    assert denials(user) == denials(user)[:1]  # the Docker-picked port is not refused


def test_a_host_port_below_1024_is_host_access(client, make_user, hosts, docker_of):
    user = user_with(make_user, hosts, "runner", ["host.view", "container.view", "container.run"])
    response = post_run(client, user, command="true", network="", ports="127.0.0.1:80:80")
    assert response.status_code == 403 and "access to their host" in response.content.decode()
    assert [a for a, _ in denials(user)] == ["container.run_privileged"]


@pytest.fixture
def shared_tag(docker_of):
    """A tag everyone on the host uses (a copy of the test image's, so it can be moved)."""
    api = docker_of("unix-1").api
    api.tag(TEST_IMAGE, "shared/base", "1")
    yield "shared/base:1", api.inspect_image("shared/base:1")["Id"]
    try:
        api.remove_image("shared/base:1", force=True)
    except docker.errors.NotFound:
        pass


def test_a_label_scoped_commit_never_moves_an_existing_tag(client, make_user, hosts, docker_of, containers, shared_tag):
    reference, image_id = shared_tag
    user = user_with(make_user, hosts, "team-a", "Operator", label="team=a")
    container = containers(cmd="true", start=False, labels={"team": "a"})
    client.force_login(user)
    url = f"/hosts/unix-1/containers/{container.id}/commit/"
    response = client.post(url, {"repository": reference, "pause": "on"})
    assert response.status_code == 403
    assert f"{reference} already exists on host unix-1" in response.content.decode()
    assert docker_of("unix-1").api.inspect_image(reference)["Id"] == image_id
    assert [a for a, _ in denials(user)] == ["container.commit"]
    new_tag = f"team-a/snapshot:{unique('v')}"
    response = client.post(url, {"repository": new_tag, "pause": "on"})
    assert response.status_code == 200, response.content.decode()
    assert docker_of("unix-1").api.inspect_image(new_tag)["Id"] != image_id
    docker_of("unix-1").api.remove_image(new_tag, force=True)


def test_a_host_wide_commit_may_move_a_tag(client, make_user, hosts, docker_of, containers, shared_tag):
    reference, image_id = shared_tag
    user = user_with(make_user, hosts, "operator", "Operator")
    container = containers(cmd="true", start=False)
    client.force_login(user)
    response = client.post(f"/hosts/unix-1/containers/{container.id}/commit/", {"repository": reference})
    assert response.status_code == 200, response.content.decode()
    assert docker_of("unix-1").api.inspect_image(reference)["Id"] != image_id
