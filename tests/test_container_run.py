"""`docker run` and `docker commit` through the console, against the real test daemons."""

import uuid

import docker.errors
import pytest

from console import gateway
from console.access.models import Grant, Role
from console.audit.models import AuditEntry
from tests.harness import TEST_IMAGE

BOTH = pytest.mark.parametrize("host_name", ["unix-1", "tls-1"])


def unique(prefix="c2"):
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def names_on(client):
    return {c.name for c in client.containers.list(all=True)}


def run_data(**fields):
    data = {"image": TEST_IMAGE, "network": "none", "mode": "detached"}
    data.update(fields)
    return data


@BOTH
def test_one_shot_shows_the_output_and_exit_code(admin_client, hosts, docker_of, host_name):
    name = unique()
    docker_of.made.append((host_name, name))
    data = run_data(name=name, command='echo "hello world"', mode="oneshot", auto_remove="on")
    response = admin_client.post(f"/hosts/{host_name}/run/", data)
    html = response.content.decode()
    assert response.status_code == 200, html
    assert '<pre class="run-output">hello world\n</pre>' in html
    assert "exit code 0" in html
    assert name not in names_on(docker_of(host_name))  # --rm: removed once the output was read
    entry = AuditEntry.objects.get(action="container.run")
    assert entry.outcome == "succeeded" and entry.target_name == name and len(entry.target_id) == 64
    assert entry.params["command"] == ["echo", "hello world"] and entry.params["mode"] == "oneshot"


def test_one_shot_reports_a_failing_exit_code_and_stderr(admin_client, hosts, docker_of):
    name = unique()
    docker_of.made.append(("unix-1", name))
    command = "sh -c 'echo oops >&2; exit 3'"
    response = admin_client.post("/hosts/unix-1/run/", run_data(name=name, command=command, mode="oneshot"))
    html = response.content.decode()
    assert "exit code 3" in html and "oops" in html
    assert docker_of("unix-1").containers.get(name).status == "exited"  # no --rm: kept


@BOTH
def test_detached_run_opens_the_running_container(admin_client, hosts, docker_of, host_name):
    name = unique()
    docker_of.made.append((host_name, name))
    data = run_data(
        name=name, command="sleep 300", environment="GREETING=hi there\nEMPTY=",
        labels="team=blue", memory="64m", cpus="0.5", restart="unless-stopped",
    )  # fmt: skip
    response = admin_client.post(f"/hosts/{host_name}/run/", data)
    assert response.status_code == 302, response.content.decode()
    container = docker_of(host_name).containers.get(name)
    assert response["Location"] == f"/hosts/{host_name}/containers/{container.id}/"
    assert container.status == "running"
    assert "GREETING=hi there" in container.attrs["Config"]["Env"]
    assert container.labels == {"team": "blue"}
    host_config = container.attrs["HostConfig"]
    assert host_config["Memory"] == 64 * 1024 * 1024 and host_config["NanoCpus"] == 500_000_000
    assert host_config["RestartPolicy"]["Name"] == "unless-stopped" and host_config["NetworkMode"] == "none"
    entry = AuditEntry.objects.get(action="container.run")
    assert entry.params["environment"] == ["GREETING", "EMPTY"]  # values never reach the trail
    assert "hi there" not in str(entry.params)


def test_interactive_run_opens_the_terminal_that_starts_it(admin_client, hosts, docker_of):
    name = unique()
    docker_of.made.append(("unix-1", name))
    response = admin_client.post("/hosts/unix-1/run/", run_data(name=name, command="sh", mode="interactive"))
    container = docker_of("unix-1").containers.get(name)
    assert response.status_code == 302
    assert response["Location"] == f"/hosts/unix-1/containers/{container.id}/terminal/?mode=attach&start=1"
    assert container.status == "created", "the terminal starts it once attached"
    assert container.attrs["Config"]["Tty"] and container.attrs["Config"]["OpenStdin"]


def test_run_page_with_a_host_select(admin_client, hosts, docker_of):
    html = admin_client.get("/run/").content.decode()
    for name in hosts:
        assert f">{name}</option>" in html
    assert f'<option value="{TEST_IMAGE}">' in html  # the first host's images are suggested
    name = unique()
    docker_of.made.append(("unix-2", name))
    response = admin_client.post("/run/", run_data(host=hosts["unix-2"].pk, name=name, command="sleep 300"))
    assert response.status_code == 302
    assert docker_of("unix-2").containers.get(name).status == "running"


def test_run_page_lists_only_hosts_one_may_run_on(client, make_user, hosts):
    operator = make_user("op", role="Operator", host=hosts["unix-2"])
    client.force_login(operator)
    html = client.get("/run/").content.decode()
    assert ">unix-2</option>" in html and ">unix-1</option>" not in html
    response = client.post("/run/", run_data(host=hosts["unix-1"].pk, command="true"))
    assert response.status_code == 400 and "Select a valid choice" in response.content.decode()


@pytest.mark.parametrize(
    "fields, field, message",
    [
        ({"image": "UPPER/Case::x"}, "image", "is not a valid image reference"),
        ({"image": "wharf-test/absent:1"}, "image", "pull it first"),
        ({"environment": "GOOD=1\nNOT A PAIR"}, "environment", "line 2: “NOT A PAIR” is not KEY=VALUE"),
        ({"command": 'echo "unbalanced'}, "command", "Unbalanced quoting"),
        ({"ports": "127.0.0.1:99999:80"}, "ports", "ports go from 1 to 65535"),
        ({"volumes": "relative/path"}, "volumes", "must be an absolute path"),
        ({"memory": "lots"}, "memory", "Give a size"),
        ({"auto_remove": "on", "restart": "always"}, "restart", "cannot have a restart policy"),
    ],
)
def test_bad_input_comes_back_next_to_the_field(admin_client, hosts, docker_of, fields, field, message):
    before = names_on(docker_of("unix-1"))
    response = admin_client.post("/hosts/unix-1/run/", run_data(**{"command": "true", **fields}))
    assert response.status_code in (400, 404)
    errors = response.context["form"].errors
    assert message in " ".join(errors.get(field, [])), errors
    assert names_on(docker_of("unix-1")) == before


def test_name_taken_comes_back_next_to_the_name(admin_client, hosts, docker_of):
    name = unique()
    docker_of.made.append(("unix-1", name))
    docker_of("unix-1").containers.create(TEST_IMAGE, "true", name=name, network_disabled=True)
    before = names_on(docker_of("unix-1"))
    response = admin_client.post("/hosts/unix-1/run/", run_data(name=name, command="true"))
    assert response.status_code == 409
    assert "is already in use" in " ".join(response.context["form"].errors["name"])
    assert names_on(docker_of("unix-1")) == before
    assert AuditEntry.objects.get(action="container.run").outcome == "failed"


def test_a_port_in_use_is_undone_and_shown_on_the_ports(admin_client, hosts, docker_of, monkeypatch):
    """The test daemons have no bridge network, so a port cannot really be taken: the
    daemon's answer to a start is faked, everything else is real."""
    name = unique()
    docker_of.made.append(("unix-1", name))
    api = gateway._client(hosts["unix-1"]).api
    response = type("R", (), {"status_code": 500, "reason": "Server Error", "url": ""})()

    def start(container, *args, **kwargs):
        raise docker.errors.APIError(
            "500 Server Error", response=response,
            explanation="driver failed programming external connectivity on endpoint x: "
            "Bind for 127.0.0.1:18080 failed: port is already allocated",
        )  # fmt: skip

    monkeypatch.setattr(api, "start", start)
    data = run_data(name=name, command="true", network="", ports="127.0.0.1:18080:80/tcp")
    response = admin_client.post("/hosts/unix-1/run/", data)
    assert response.status_code == 409
    assert "port is already allocated" in " ".join(response.context["form"].errors["ports"])
    assert name not in names_on(docker_of("unix-1"))  # created, then removed again


def test_a_container_that_cannot_start_is_reported_with_its_page(admin_client, hosts, docker_of):
    name = unique()
    docker_of.made.append(("unix-1", name))
    response = admin_client.post("/hosts/unix-1/run/", run_data(name=name, command="/no/such/program"))
    html = response.content.decode()
    assert response.status_code == 502
    assert f"Container {name} was created but did not start" in html
    container = docker_of("unix-1").containers.get(name)
    assert f'href="/hosts/unix-1/containers/{container.id}/"' in html  # its page has the remove button
    assert container.status == "created"


# --- permissions ---------------------------------------------------------------------


@pytest.fixture
def runner(make_user, hosts):
    """May run containers on unix-1, but nothing that reaches into the host."""
    role = Role.objects.create(name="Runner", permissions=["host.view", "container.view", "container.run"])
    user = make_user("runner")
    Grant.objects.create(user=user, role=role, host=hosts["unix-1"])
    return user


@pytest.mark.parametrize(
    "fields",
    [{"privileged": "on"}, {"network": "host"}, {"volumes": "/etc:/host-etc:ro"}, {"cap_add": "NET_ADMIN"},
     {"pid_host": "on"}, {"devices": "/dev/null"}],
    ids=["privileged", "host-network", "bind-mount", "cap-add", "host-pid", "device"],
)  # fmt: skip
def test_host_access_is_denied_to_a_plain_runner(client, runner, docker_of, fields):
    client.force_login(runner)
    before = names_on(docker_of("unix-1"))
    response = client.post("/hosts/unix-1/run/", run_data(command="true", **fields))
    assert response.status_code == 403
    assert "access to their host" in response.content.decode()
    denied = AuditEntry.objects.filter(outcome="denied")
    assert [(e.action, e.actor_name) for e in denied] == [("container.run_privileged", "runner")]
    assert AuditEntry.objects.exclude(outcome="denied").filter(action__startswith="container.").count() == 0
    assert names_on(docker_of("unix-1")) == before


def test_a_plain_runner_runs_and_binds_allowed_folders(client, runner, docker_of, settings, tmp_path):
    settings.RUN_ALLOWED_BIND_PATHS = [str(tmp_path)]
    client.force_login(runner)
    name = unique()
    docker_of.made.append(("unix-1", name))
    data = run_data(name=name, command="sleep 300", volumes=f"{tmp_path}/data:/data")
    response = client.post("/hosts/unix-1/run/", data)
    assert response.status_code == 302, response.content.decode()
    assert docker_of("unix-1").containers.get(name).status == "running"
    entries = AuditEntry.objects.filter(action__startswith="container.")
    assert list(entries.values_list("action", "outcome")) == [("container.run", "succeeded")]


def test_an_admin_binds_any_folder_in_one_entry_that_names_the_permission(
    admin_client, hosts, docker_of, tmp_path
):
    name = unique()
    docker_of.made.append(("unix-1", name))
    (tmp_path / "hello.txt").write_text("from the host\n")
    data = run_data(name=name, command="cat /mnt/hello.txt", mode="oneshot", volumes=f"{tmp_path}:/mnt:ro")
    html = admin_client.post("/hosts/unix-1/run/", data).content.decode()
    assert "from the host" in html and "exit code 0" in html
    entries = AuditEntry.objects.filter(action__startswith="container.").order_by("id")
    assert [(e.action, e.outcome) for e in entries] == [("container.run_privileged", "succeeded")]
    assert entries[0].params["host_access"] == [f"bind mount of {tmp_path}"]


def test_developer_may_not_run(client, make_user, hosts, docker_of):
    developer = make_user("dev", role="Developer")
    client.force_login(developer)
    assert client.get("/hosts/unix-1/run/").status_code == 403
    assert client.get("/run/").status_code == 403
    assert AuditEntry.objects.filter(outcome="denied", action="container.run").count() == 2
    before = names_on(docker_of("unix-1"))
    response = client.post("/hosts/unix-1/run/", run_data(command="true"))
    assert response.status_code == 403
    denied = AuditEntry.objects.filter(outcome="denied").first()  # the newest
    assert (denied.action, denied.actor_name, denied.host_name) == ("container.run", "dev", "unix-1")
    assert AuditEntry.objects.filter(outcome="denied").count() == 3
    assert names_on(docker_of("unix-1")) == before


def test_a_label_scoped_runner_runs_only_with_the_label(client, make_user, hosts, docker_of):
    role = Role.objects.create(name="Runner", permissions=["host.view", "container.view", "container.run"])
    user = make_user("scoped")
    Grant.objects.create(user=user, role=role, host=hosts["unix-1"], label_key="team", label_value="blue")
    client.force_login(user)
    assert "team=blue" in client.get("/hosts/unix-1/run/").content.decode()  # the label is filled in
    response = client.post("/hosts/unix-1/run/", run_data(command="true", labels="team=red"))
    assert response.status_code == 403
    name = unique()
    docker_of.made.append(("unix-1", name))
    response = client.post("/hosts/unix-1/run/", run_data(name=name, command="sleep 300", labels="team=blue"))
    assert response.status_code == 302
    assert docker_of("unix-1").containers.get(name).labels == {"team": "blue"}


# --- commit ------------------------------------------------------------------------


@pytest.fixture
def image_cleanup(docker_of):
    made = []
    yield made
    for host_name, ref in made:
        try:
            docker_of(host_name).images.remove(ref, force=True)
        except docker.errors.NotFound:
            pass


@BOTH
def test_commit_then_run_the_new_image(admin_client, hosts, docker_of, image_cleanup, host_name):
    name = unique()
    docker_of.made.append((host_name, name))
    command = "sh -c 'echo committed > /marker && exec sleep 300'"
    response = admin_client.post(f"/hosts/{host_name}/run/", run_data(name=name, command=command))
    assert response.status_code == 302
    container = docker_of(host_name).containers.get(name)
    for _ in range(50):  # the file appears once the shell has run
        try:
            container.get_archive("/marker")
            break
        except docker.errors.NotFound:
            import time

            time.sleep(0.1)
    repository = f"wharf-test/{unique('committed')}"
    image_cleanup.append((host_name, f"{repository}:v1"))
    data = {
        "repository": f"{repository}:v1", "author": "Ada <ada@example.com>", "message": "with a marker",
        "changes": "ENV FLAVOUR=vanilla\nCMD [\"cat\", \"/marker\"]", "pause": "on",
    }  # fmt: skip
    response = admin_client.post(f"/hosts/{host_name}/containers/{name}/commit/", data)
    html = response.content.decode()
    assert response.status_code == 200, html
    image = docker_of(host_name).images.get(f"{repository}:v1")
    assert image.id in html and f"{repository}:v1" in html
    assert image.attrs["Author"] == "Ada <ada@example.com>" and image.attrs["Comment"] == "with a marker"
    entry = AuditEntry.objects.get(action="container.commit")
    assert entry.outcome == "succeeded" and entry.target_name == name

    runs = []
    for command in ("", "sh -c 'echo $FLAVOUR'"):  # the image's CMD, then the ENV change
        run_name = unique()
        docker_of.made.append((host_name, run_name))
        data = run_data(image=f"{repository}:v1", name=run_name, command=command, mode="oneshot")
        runs.append(admin_client.post(f"/hosts/{host_name}/run/", data).content.decode())
    assert "committed\n</pre>" in runs[0] and "vanilla\n</pre>" in runs[1]


def test_commit_form_errors_and_denial(client, admin_client, make_user, hosts, docker_of):
    name = unique()
    docker_of.made.append(("unix-1", name))
    docker_of("unix-1").containers.create(TEST_IMAGE, "true", name=name, network_disabled=True)
    url = f"/hosts/unix-1/containers/{name}/commit/"
    assert admin_client.get(url).status_code == 200
    response = admin_client.post(url, {"repository": "Bad Name", "changes": "RUN rm -rf /"})
    errors = response.context["form"].errors
    assert response.status_code == 400
    assert (
        "is not repository[:tag]" in errors["repository"][0] and "RUN is not one of" in errors["changes"][0]
    )

    developer = make_user("dev", role="Developer")
    client.force_login(developer)
    images_before = len(docker_of("unix-1").images.list(all=True))
    assert client.get(url).status_code == 403  # the form page: refused, and on the record
    assert AuditEntry.objects.filter(outcome="denied").count() == 1
    response = client.post(url, {"repository": "wharf-test/nope:1", "pause": "on"})
    assert response.status_code == 403
    denied = AuditEntry.objects.filter(outcome="denied")
    assert [(e.action, e.target_name) for e in denied] == [("container.commit", name)] * 2
    assert len(docker_of("unix-1").images.list(all=True)) == images_before


def test_unknown_container_is_a_404(admin_client, hosts):
    response = admin_client.get("/hosts/unix-1/containers/no-such-thing/commit/")
    assert response.status_code == 404
