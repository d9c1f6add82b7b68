"""The image list against `docker images` with `-a`, `--no-trunc` and both, on the same
daemon (issue 12), with awkward images made on purpose: a dangling image, an untagged
intermediate image (only with -a), one image with three tags (one under a name with
dots), and an image that keeps only its registry digest after its tag moved to a newer
image (pushed to the test registry, then tagged over)."""

import uuid
from collections import Counter

import docker.errors
import pytest

from tests.harness import TEST_IMAGE
from tests.parity import DockerCli, agree, cli_time, html_tree, table_rows

HOST = "unix-2"


@pytest.fixture(scope="module")
def awkward(docker_env):
    """(their namespace, {role: image id}) made once for the module; the images and
    their tags are removed at its end."""
    client = docker_env.client(HOST)
    registry = docker_env.registry
    ns = f"parity-{uuid.uuid4().hex[:6]}"
    made, containers, committed = {}, [], []

    def commit(image, **tag):
        container = client.containers.create(image, ["true"], network_disabled=True)
        containers.append(container)
        committed.append(container.commit(**tag).id)
        return committed[-1]

    try:
        made["intermediate"] = commit(TEST_IMAGE)  # untagged, with a child: only with -a
        made["tagged"] = commit(made["intermediate"], repository=f"{ns}/child", tag="1")
        for repository, tag in ((f"{ns}/child", "two"), (f"{ns}.example.org/x.y", "1.0")):
            client.api.tag(made["tagged"], repository, tag)
        made["dangling"] = commit(TEST_IMAGE, repository=f"{ns}/dangle", tag="1")
        commit(TEST_IMAGE, repository=f"{ns}/dangle", tag="1")  # takes the tag away
        pushed = f"{registry.address}/{ns}/pushed"
        made["digest only"] = commit(TEST_IMAGE, repository=pushed, tag="1")
        auth = {"username": registry.username, "password": registry.password}
        answer = client.api.push(pushed, tag="1", auth_config=auth, stream=True, decode=True)
        assert not [line for line in answer if "error" in line]
        made["newer"] = commit(TEST_IMAGE, repository=pushed, tag="1")  # the tag moves on
        assert client.api.inspect_image(made["digest only"])["RepoDigests"]
        yield ns, made
    finally:
        for container in containers:
            container.remove(force=True)
        for image_id in reversed(committed):  # children before their parents
            try:
                client.api.remove_image(image_id, force=True)
            except docker.errors.NotFound:
                pass


def images_page(client, path, query):
    tree = html_tree(client.get(f"{path}?{query}"))
    return Counter(
        (
            tr.attrs["data-host"], cells["Repository"].text(), cells["Tag"].text(), cells["Image id"].text(),
            cli_time(cells["Created"].attrs.get("title", "")), cells["Created"].text(), cells["Size"].text(),
        )  # fmt: skip
        for tr, cells in table_rows(tree.find("table"))
    )


def cli_images(host, lines):
    return Counter(
        (host, line["Repository"], line["Tag"], line["ID"], cli_time(line["CreatedAt"]), line["CreatedSince"],
         line["Size"])  # fmt: skip
        for line in lines
    )


def differences(page, oracle):
    return [("only on the page", +(page - oracle)), ("only in docker images", +(oracle - page))] if page != oracle else []


@pytest.mark.parametrize(
    "flags, query",
    [((), ""), (("-a",), "all=1"), (("--no-trunc",), "no_trunc=1"), (("-a", "--no-trunc"), "all=1&no_trunc=1")],
)
def test_images(admin_client, hosts, awkward, docker_env, tmp_path, flags, query, list_source):
    """The same rows (repository, tag, id, created time exact and in words, size) as docker
    images; read from the daemon, and from the state its events keep."""
    docker_cli = DockerCli(docker_env, HOST, tmp_path)
    page, oracle = agree(
        lambda: cli_images(HOST, docker_cli.json_lines("images", *flags)),
        lambda: images_page(admin_client, f"/hosts/{HOST}/images/", query),
        differences,
    )
    ns, made = awkward
    rows = Counter((repository, tag) for _, repository, tag, *_ in page)
    assert rows[(f"{docker_env.registry.address}/{ns}/pushed", "<none>")] == 1  # the digest only
    assert rows[(f"{docker_env.registry.address}/{ns}/pushed", "1")] == 1
    assert {(f"{ns}/child", "1"), (f"{ns}/child", "two"), (f"{ns}.example.org/x.y", "1.0")} <= set(rows)
    assert ("<none>", "<none>") in rows  # the dangling image
    ids = {image_id for _, _, _, image_id, *_ in page}
    intermediate = made["intermediate"] if "--no-trunc" in flags else made["intermediate"][7:19]
    assert (intermediate in ids) == ("-a" in flags)


def test_images_across_hosts(admin_client, hosts, awkward, docker_env, tmp_path, list_source):
    """The list of every host against docker images -a of each daemon (tls-1 with --tlsverify)."""
    clis = {name: DockerCli(docker_env, name, tmp_path) for name in hosts}
    page, _ = agree(
        lambda: sum((cli_images(name, c.json_lines("images", "-a")) for name, c in clis.items()), Counter()),
        lambda: images_page(admin_client, "/images/", "all=1"),
        differences,
    )
    assert {host for host, *_ in page} == set(hosts)


def ids_page(client, path, query):
    """{host: Counter of the ids} of the list's "ids only" view."""
    tree = html_tree(client.get(f"{path}?{query}"))
    return {
        section.attrs["data-host"]: Counter(section.find("pre").text().splitlines())
        for section in tree.find_all("section", class_="image-ids")
    }


@pytest.mark.parametrize(
    "flags, query", [(("-q",), "quiet=1"), (("-a", "-q"), "all=1&quiet=1"), (("-q", "--no-trunc"), "quiet=1&no_trunc=1")]
)
def test_images_quiet(admin_client, hosts, awkward, docker_env, tmp_path, flags, query, list_source):
    """The ids only view writes what docker images -q [-a] [--no-trunc] writes (an id per
    tag), to copy; on one host's page and, per host, on the page of every host."""
    clis = {name: DockerCli(docker_env, name, tmp_path) for name in hosts}

    def differences(page, oracle):
        return [(h, +(page.get(h, Counter()) - ids), +(ids - page.get(h, Counter()))) for h, ids in oracle.items()
                if page.get(h) != ids] + [(h, "not a host") for h in set(page) - set(oracle)]  # fmt: skip

    one, oracle = agree(
        lambda: {HOST: Counter(clis[HOST]("images", *flags).splitlines())},
        lambda: ids_page(admin_client, f"/hosts/{HOST}/images/", query),
        differences,
    )
    ns, made = awkward
    intermediate = made["intermediate"] if "--no-trunc" in flags else made["intermediate"][7:19]
    assert (intermediate in one[HOST]) == ("-a" in flags)
    tagged = made["tagged"] if "--no-trunc" in flags else made["tagged"][7:19]
    assert one[HOST][tagged] == 3  # three tags, three lines, as the CLI writes them
    every, _ = agree(
        lambda: {name: Counter(c("images", *flags).splitlines()) for name, c in clis.items()},
        lambda: ids_page(admin_client, "/images/", query),
        differences,
    )
    assert set(every) == set(hosts)
