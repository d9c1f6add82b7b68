"""The container pages against `docker ps` (-a, -l), `inspect`, `top` and `diff` of the
same daemon (issue 12), with awkward containers made on purpose: running, paused,
exited with a code, created, names with dots, labels with & < > and empty values, a
command whose arguments hold spaces, quotes, a tab and non-ASCII text, and changed files
whose names hold spaces and non-ASCII characters."""

import json
import re
import uuid

import docker.errors
import pytest

from tests.conftest import network_options
from tests.harness import TEST_IMAGE
from tests.parity import DockerCli, agree, cli_time, definitions, html_tree, table_rows

HOST = "unix-2"
LABELS = {"parity": "1", "team&co": "<a&b>", "empty": ""}


@pytest.fixture(scope="module")
def awkward(docker_env):
    """{role: docker-py Container} made once for the module, removed at its end."""
    client = docker_env.client(HOST)
    tag = uuid.uuid4().hex[:6]
    made = {}

    def make(role, command, start=True, network=None):
        container = client.containers.create(
            TEST_IMAGE, command, name=f"parity.{role}.{tag}", labels=LABELS, **network_options(network)
        )
        made[role] = container
        if start:
            container.start()
        return container

    try:
        make("created", ["echo", "it's a \"q\"", "tab\tx", "ünï cödé", "--long-enough-to-be-cut"], start=False)
        make("exited", ["sh", "-c", "exit 3"]).wait(timeout=30)
        make("paused", ["sleep", "1000"]).pause()
        web = make("web.v1", ["sh", "-c", "sleep 1000"], network="none")
        script = (
            'mkdir "/tmp/a dir" && echo x > "/tmp/a dir/café ünï.txt" && echo y > "/tmp/with space" '
            "&& rm /etc/group && echo z >> /etc/passwd"
        )
        assert web.exec_run(["sh", "-c", script]).exit_code == 0
        yield made
    finally:
        for container in made.values():
            try:
                client.api.remove_container(container.id, force=True)
            except docker.errors.NotFound:
                pass


@pytest.fixture
def docker_cli(docker_env, tmp_path):
    return DockerCli(docker_env, HOST, tmp_path)


# --- docker ps, ps -a, ps -l ------------------------------------------------------


def list_page(client, path, query):
    """{(host, name): the row's facts} of a container list."""
    tree = html_tree(client.get(f"{path}?labels=1&{query}"))
    rows = {}
    for tr, cells in table_rows(tree.find("table", class_="containers")):
        name_cell = cells["Name"]
        rows[tr.attrs["data-host"], name_cell.find("a").text()] = {
            "ID": name_cell.find("span").text(),
            "Image": cells["Image"].text(),
            "Command": cells["Command"].attrs["title"],
            "Command shown": cells["Command"].text(),
            "State": cells["State"].find("span").text(),
            "Status": cells["Status"].text(),
            "CreatedAt": cells["Created"].attrs.get("title"),
            "RunningFor": cells["Created"].text(),
            "Ports": cells["Ports"].text(),
            "Labels": sorted(",".join(c.text() for c in cells["Labels"].find_all("code")).split(",")),
        }
    return rows


def ps_rows(host, lines):
    return {
        (host, line["Names"]): {
            "ID": line["ID"][:12], "Image": line["Image"], "Command": line["Command"],
            "State": line["State"], "Status": line["Status"], "CreatedAt": cli_time(line["CreatedAt"]),
            "RunningFor": line["RunningFor"], "Ports": line["Ports"], "Labels": sorted(line["Labels"].split(",")),
        }  # fmt: skip
        for line in lines
    }


def ps_differences(page, cli_rows):
    found = []
    if set(page) != set(cli_rows):
        found.append(("containers", sorted(page), sorted(cli_rows)))
    for name in set(page) & set(cli_rows):
        row = page[name]
        shown, whole = row["Command shown"], row["Command"]
        if not (shown == whole or (shown.endswith('…"') and whole.startswith(shown[:-2]))):
            found.append((name, "Command shown", shown, whole))
        found += [(name, k, row[k], v) for k, v in cli_rows[name].items() if row[k] != v and not same_moment(row[k], v)]
    return found


SECONDS = re.compile(r"(\d+) seconds")


def same_moment(page, cli):
    """"Up 4 seconds" and "Up 5 seconds" (or "4 seconds ago"): the same words, a second
    or two apart, as a page and a CLI read in turn on a busy machine give them."""
    if not isinstance(page, str) or not isinstance(cli, str) or SECONDS.sub("N", page) != SECONDS.sub("N", cli):
        return False
    return all(abs(int(a) - int(b)) <= 2 for a, b in zip(SECONDS.findall(page), SECONDS.findall(cli), strict=True))


@pytest.mark.parametrize("flags, query", [((), ""), (("-a",), "all=1"), (("-l",), "latest=1")])
def test_ps(admin_client, hosts, awkward, docker_cli, flags, query, list_source):
    """docker ps [-a | -l] --no-trunc: the same containers with the same id, image,
    command (quoted as the CLI quotes it), state, status, created time (exact and in
    words), ports and labels; read from the daemon, and from the state its events keep."""
    page, cli_rows = agree(
        lambda: ps_rows(HOST, docker_cli.json_lines("ps", *flags, "--no-trunc")),
        lambda: list_page(admin_client, f"/hosts/{HOST}/containers/", query),
        ps_differences,
    )
    names = {role: (HOST, c.name) for role, c in awkward.items()}
    if flags == ("-l",):
        assert len(page) == 1
    else:  # docker ps shows paused containers with the running ones
        shown = {"created", "exited", "paused", "web.v1"} if flags else {"paused", "web.v1"}
        assert {role for role, name in names.items() if name in page} == shown


def test_ps_across_hosts(admin_client, hosts, awkward, docker_env, tmp_path, list_source):
    """The list of every host against docker ps -a of each daemon (tls-1 with --tlsverify)."""
    clis = {name: DockerCli(docker_env, name, tmp_path) for name in hosts}
    page, cli_rows = agree(
        lambda: {k: v for name, c in clis.items() for k, v in ps_rows(name, c.json_lines("ps", "-a", "--no-trunc")).items()},
        lambda: list_page(admin_client, "/containers/", "all=1"),
        ps_differences,
    )
    assert {(HOST, c.name) for c in awkward.values()} <= set(page)


# --- docker inspect and the container page -------------------------------------------


ROLES = pytest.mark.parametrize("role", ["created", "exited", "paused", "web.v1"])


@ROLES
def test_inspect(admin_client, hosts, awkward, docker_cli, role):
    """The Inspect tab holds exactly what docker inspect prints."""
    container_id = awkward[role].id
    agree(
        lambda: docker_cli.json_lines("inspect", container_id)[0],
        lambda: json.loads(
            html_tree(admin_client.get(f"/hosts/{HOST}/containers/{container_id[:12]}/inspect/"))
            .find("pre", class_="inspect").text()
        ),
        lambda page, attrs: [] if page == attrs else [("inspect", page, attrs)],
    )


@ROLES
def test_container_page(admin_client, hosts, awkward, docker_cli, role):
    """The Overview tab: the command as docker ps --no-trunc shows it, the exact
    arguments, state, exit code, image, labels and networks as docker inspect has them."""
    container_id = awkward[role].id

    def read_cli():
        attrs = docker_cli.json_lines("inspect", container_id)[0]
        (line,) = docker_cli.json_lines("ps", "-a", "--no-trunc", "--filter", f"id={container_id}")
        return attrs, line["Command"]

    def read_page():
        tree = html_tree(admin_client.get(f"/hosts/{HOST}/containers/{container_id[:12]}/"))
        labels = {tr.find_all("td")[0].text(): tr.find_all("td")[1].text()
                  for tr in tree.find("table", class_="labels").find_all("tr")}  # fmt: skip
        rows = tree.find("table", class_="networks").find_all("tr")
        networks = [tr.find_all("td")[0].text() for tr in rows if tr.find_all("td")]
        return definitions(tree), labels, networks

    def differences(page, oracle):
        (facts, labels, networks), (attrs, command) = page, oracle
        state = attrs["State"]
        expected = {
            "Command": command,
            "Arguments": json.dumps([attrs["Path"], *attrs["Args"]], ensure_ascii=False),
            "Image": attrs["Config"]["Image"],
            "Image id": attrs["Image"],
            "State": state["Status"],
            "Hostname": attrs["Config"]["Hostname"],
        }
        if state["Status"] == "exited":
            expected["Exit code"] = str(state["ExitCode"])
        found = [(k, facts[k].text() if k in facts else None, v) for k, v in expected.items()]
        found.append(("labels", labels, attrs["Config"]["Labels"]))
        none = "Networking disabled." if attrs["Config"].get("NetworkDisabled") else "No networks."
        found.append(("networks", networks, sorted(attrs["NetworkSettings"]["Networks"]) or [none]))
        return [f for f in found if f[1] != f[2]]

    agree(read_cli, read_page, differences)


def test_run_result_shows_the_command_as_ps_does(admin_client, hosts, docker_env, docker_cli):
    """A one-shot run's result shows its command as docker ps --no-trunc does."""
    response = admin_client.post(
        f"/hosts/{HOST}/run/", {"image": TEST_IMAGE, "command": "sh -c 'exit 3'", "mode": "oneshot"}
    )
    tree = html_tree(response)
    result = tree.find("article", id="run-result")
    link = result.find("a").attrs["href"]
    container_id = re.search(r"/containers/([0-9a-f]+)/", link)[1]
    try:
        (line,) = docker_cli.json_lines("ps", "-a", "--no-trunc", "--filter", f"id={container_id}")
        assert result.find("p", class_="command").text() == line["Command"] == "\"sh -c 'exit 3'\""
        assert "exit code 3" in result.find("header").words()
    finally:
        docker_env.client(HOST).api.remove_container(container_id, force=True)


# --- docker top and docker diff ------------------------------------------------------


def top_table(text):
    """`docker top`'s table: columns padded with at least two spaces (tabwriter)."""
    lines = text.splitlines()
    return [re.split(r" {2,}", line.rstrip()) for line in lines[:1]], [
        re.split(r" {2,}", line.rstrip()) for line in lines[1:]
    ]


@pytest.mark.parametrize("ps_args", [None, "-o pid,ppid,user,args"])
def test_top(admin_client, hosts, awkward, docker_cli, ps_args):
    container_id = awkward["web.v1"].id

    def read_cli():
        titles, processes = top_table(docker_cli("top", container_id, *(ps_args.split() if ps_args else ())))
        return titles[0], processes

    def read_page():
        query = f"?ps={ps_args}" if ps_args else ""
        table = html_tree(admin_client.get(f"/hosts/{HOST}/containers/{container_id[:12]}/top/{query}"))
        table = table.find("table", class_="processes")
        titles = [th.text() for th in table.find("thead").find_all("th")]
        return titles, [[td.text() for td in tr.find_all("td")] for tr in table.find("tbody").find_all("tr")]

    page, (titles, processes) = agree(
        read_cli, read_page, lambda page, oracle: [] if page == oracle else [("top", page, oracle)]
    )
    assert processes and "sleep 1000" in processes[0][-1]


def test_diff(admin_client, hosts, awkward, docker_cli):
    """docker diff: the same changes (A, C, D) with names holding spaces and non-ASCII."""
    container_id = awkward["web.v1"].id

    def read_cli():
        return sorted(tuple(line.split(" ", 1)) for line in docker_cli("diff", container_id).splitlines())

    def read_page():
        tree = html_tree(admin_client.get(f"/hosts/{HOST}/containers/{container_id[:12]}/diff/"))
        rows = tree.find("table", class_="changes").find("tbody").find_all("tr")
        return sorted((tr.find_all("td")[0].text(), tr.find_all("td")[1].text()) for tr in rows)

    page, changes = agree(read_cli, read_page, lambda page, oracle: [] if page == oracle else [page, oracle])
    assert {("A", "/tmp/a dir/café ünï.txt"), ("A", "/tmp/with space"), ("D", "/etc/group"),
            ("C", "/etc/passwd")} <= set(changes)  # fmt: skip
