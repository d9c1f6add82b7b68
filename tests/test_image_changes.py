"""Changing images through the pages, against the real test daemons: tag and untag,
rmi (in use, forced, many), prune, save on one host and load on another, import of an
exported busybox root filesystem (a file and a URL), and the layer history against
`docker history`."""

import http.server
import io
import json
import tarfile
import threading
import uuid

import docker.errors
import pytest

from console.audit.models import AuditEntry
from tests.harness import TEST_IMAGE, _image_tar
from tests.parity import DockerCli, html_tree, table_rows


def rootfs_tar():
    """A root filesystem: the static busybox with its applet links."""
    return _image_tar()


@pytest.fixture
def image_of(docker_env):
    """Make an image of one's own on a daemon (committed from a removed container) and
    tag it; every image made is removed at the end."""
    made = []

    def make(host, repository=None, tag="1"):
        client = docker_env.client(host)
        container = client.containers.create(TEST_IMAGE, ["true"], network_disabled=True)
        image = container.commit(repository=repository, tag=tag if repository else None)
        container.remove()
        made.append((client, image.id))
        return image.id

    make.made = made
    yield make
    for client, image_id in reversed(made):
        try:
            client.api.remove_image(image_id, force=True)
        except docker.errors.APIError:
            pass


def _name():
    return f"changes-{uuid.uuid4().hex[:8]}"


def test_tag_and_untag(admin_client, hosts, docker_env, image_of):
    repo = _name()
    image_id = image_of("unix-1", repo)
    url = f"/hosts/unix-1/images/{image_id[7:19]}/action/"
    response = admin_client.post(url, {"action": "tag", "reference": f"{repo}:two"})
    assert response.status_code == 302
    client = docker_env.client("unix-1")
    assert f"{repo}:two" in client.images.get(image_id).tags
    response = admin_client.post(url, {"action": "tag", "reference": "Not A Reference"})
    assert response.status_code == 400 and "is not repository[:tag]" in response.content.decode()
    admin_client.post(url, {"action": "untag", "reference": f"{repo}:two"})
    assert client.images.get(image_id).tags == [f"{repo}:1"]
    actions = list(AuditEntry.objects.filter(action__in=["image.tag", "image.untag"]).order_by("id").values_list("action", "outcome"))
    assert actions == [("image.tag", "succeeded"), ("image.untag", "succeeded")]


def test_rmi_in_use_is_refused_with_the_container_named_and_force_works(admin_client, hosts, docker_env, image_of):
    repo = _name()
    image_id = image_of("unix-1", repo)
    client = docker_env.client("unix-1")
    user = client.containers.create(image_id, ["true"], network_disabled=True, name=_name())
    try:
        url = f"/hosts/unix-1/images/{image_id[7:19]}/action/"
        response = admin_client.post(url, {"action": "remove"})
        text = response.content.decode()
        assert response.status_code == 409
        assert "is used by a container" in text and user.name in text
        assert client.images.get(image_id)
        response = admin_client.post(url, {"action": "remove", "force": "1"})
        assert response.status_code == 302
        assert repo not in str(client.images.list())
    finally:
        user.remove(force=True)
    outcomes = list(AuditEntry.objects.filter(action="image.remove").order_by("id").values_list("outcome", flat=True))
    assert outcomes == ["failed", "succeeded"]


def test_bulk_remove_reports_each_image(admin_client, hosts, docker_env, image_of):
    free, used = _name(), _name()
    image_of("unix-1", free)
    used_id = image_of("unix-2", used)
    user = docker_env.client("unix-2").containers.create(used_id, ["true"], network_disabled=True, name=_name())
    try:
        response = admin_client.post("/images/actions/", {
            "action": "remove", "i": [f"unix-1/{free}:1", f"unix-2/{used}:1", "nowhere/x:1"],
        })  # fmt: skip
        rows = {
            tr.attrs["data-name"]: (tr.attrs["data-outcome"], cells["Details"].text())
            for tr, cells in table_rows(html_tree(response).find("table"))
        }
        assert rows[f"{free}:1"] == ("succeeded", f"untagged {free}:1; deleted 1 layer")
        assert rows[f"{used}:1"][0] == "failed" and user.name in rows[f"{used}:1"][1]
        assert rows["x:1"] == ("failed", "no host nowhere you may see")
    finally:
        user.remove(force=True)


def test_prune_names_the_dangling_images_and_removes_them(admin_client, hosts, docker_env, image_of):
    dangling = image_of("unix-1")
    page = admin_client.get("/hosts/unix-1/images/prune/").content.decode()
    assert dangling[7:19] in page and "freeing up to" in page
    tagged = image_of("unix-1", _name())
    assert tagged[7:19] not in page
    response = admin_client.post("/hosts/unix-1/images/prune/", {"id": [dangling, "sha256:" + "0" * 64]})
    text = response.content.decode()
    assert "removed" in text and "skipped" in text
    with pytest.raises(docker.errors.ImageNotFound):
        docker_env.client("unix-1").images.get(dangling)
    entry = AuditEntry.objects.get(action="image.prune")
    assert entry.outcome == "succeeded" and entry.params["images"] == [dangling[7:19]]


def test_save_on_one_host_and_load_on_another_gives_the_same_image(admin_client, hosts, docker_env, image_of, tmp_path):
    repo = _name()
    image_id = image_of("unix-1", repo)
    response = admin_client.get(f"/hosts/unix-1/images/save/?ref={repo}:1")
    assert response.status_code == 200 and response["Content-Disposition"].endswith(f'{repo}_1.tar"')
    saved = tmp_path / "saved.tar"
    with saved.open("wb") as f:
        for chunk in response.streaming_content:
            f.write(chunk)
    # the page's script sends the file as the body itself; without script, a form upload
    response = admin_client.post("/hosts/unix-2/images/load/", saved.read_bytes(), content_type="application/x-tar",
                                 headers={"X-File-Name": "saved%20image.tar"})  # fmt: skip
    assert response.status_code == 200, response.content[:400]
    assert f'<code class="loaded">{repo}:1</code>' in response.content.decode()
    image_of.made.append((docker_env.client("unix-2"), image_id))
    assert docker_env.client("unix-2").images.get(f"{repo}:1").id == image_id
    docker_env.client("unix-2").api.remove_image(f"{repo}:1")
    with saved.open("rb") as f:
        response = admin_client.post("/hosts/unix-2/images/load/", {"file": f})
    assert f'<code class="loaded">{repo}:1</code>' in response.content.decode()
    assert docker_env.client("unix-2").images.get(f"{repo}:1").id == image_id
    save = AuditEntry.objects.get(action="image.save")
    assert save.outcome == "succeeded" and save.size_bytes == saved.stat().st_size
    loads = AuditEntry.objects.filter(action="image.load").order_by("id")
    assert [(e.outcome, e.target_name, e.size_bytes) for e in loads] == [
        ("succeeded", "saved image.tar", saved.stat().st_size), ("succeeded", "saved.tar", saved.stat().st_size)
    ]


def test_a_corrupt_tar_gives_the_daemons_message(admin_client, hosts):
    upload = io.BytesIO(b"this is not a tar" * 100)
    upload.name = "broken.tar"
    response = admin_client.post("/hosts/unix-1/images/load/", {"file": upload})
    text = response.content.decode()
    assert response.status_code == 502 and "host unix-1:" in text
    assert AuditEntry.objects.get(action="image.load").outcome == "failed"


def _exported_rootfs(docker_env, tmp_path):
    """A busybox container's filesystem, exported (docker export) to a file."""
    client = docker_env.client("unix-1")
    container = client.containers.create(TEST_IMAGE, ["true"], network_disabled=True)
    path = tmp_path / "rootfs.tar"
    with path.open("wb") as f:
        for chunk in container.export():
            f.write(chunk)
    container.remove()
    return path


def test_import_of_an_exported_rootfs_runs(admin_client, hosts, docker_env, image_of, tmp_path):
    repo = _name()
    with _exported_rootfs(docker_env, tmp_path).open("rb") as f:
        response = admin_client.post("/hosts/unix-2/images/import/", {
            "file": f, "repository": f"{repo}:1", "changes": 'CMD ["echo", "imported fine"]', "message": "from export",
        })  # fmt: skip
    assert response.status_code == 302, response.content[:400]
    client = docker_env.client("unix-2")
    image = client.images.get(f"{repo}:1")
    image_of.made.append((client, image.id))
    assert response["Location"].endswith(f"/images/{image.id[7:19]}/")
    assert image.attrs["Comment"] == "from export"
    assert client.containers.run(image.id, network_disabled=True, remove=True) == b"imported fine\n"


def test_import_from_a_url(admin_client, hosts, docker_env, image_of, tmp_path):
    path = _exported_rootfs(docker_env, tmp_path)
    handler = lambda *a, **kw: http.server.SimpleHTTPRequestHandler(*a, directory=str(tmp_path), **kw)  # noqa: E731
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    repo = _name()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/{path.name}"
        response = admin_client.post("/hosts/unix-1/images/import/", {"url": url, "repository": repo})
    finally:
        server.shutdown()
    assert response.status_code == 302, response.content[:400]
    image = docker_env.client("unix-1").images.get(f"{repo}:latest")
    image_of.made.append((docker_env.client("unix-1"), image.id))
    both = admin_client.post("/hosts/unix-1/images/import/", {"url": url, "file": io.BytesIO(b"x")})
    assert both.status_code == 400 and "either a file or a URL" in both.content.decode()


@pytest.mark.parametrize("no_trunc", [False, True])
def test_history_matches_docker_history(admin_client, hosts, docker_env, image_of, tmp_path, no_trunc):
    client = docker_env.client("unix-2")
    container = client.containers.create(TEST_IMAGE, ["sh", "-c", "echo a long command line " * 4], network_disabled=True)
    image_id = container.commit(changes=['CMD ["sh", "-c", "echo a command longer than forty-five characters"]'],
                                message="history test").id  # fmt: skip
    container.remove()
    image_of.made.append((client, image_id))
    flags = ["--no-trunc"] if no_trunc else []
    cli = DockerCli(docker_env, "unix-2", tmp_path).json_lines("history", *flags, image_id)
    query = "?no_trunc=1" if no_trunc else ""
    tree = html_tree(admin_client.get(f"/hosts/unix-2/images/{image_id[7:19]}/history/{query}"))
    rows = table_rows(tree.find("table", class_="history"))
    page = [(c["Created by"].text(), c["Size"].text(), c["Comment"].text()) for _, c in rows]
    assert page == [(line["CreatedBy"], line["Size"], line["Comment"]) for line in cli]
    assert len(page) >= 2 and rows[0][1]["Image"].text() == image_id[7:19]


def test_image_page_shows_config_and_users(admin_client, hosts, docker_env, image_of):
    client = docker_env.client("unix-1")
    container = client.containers.create(TEST_IMAGE, ["true"], network_disabled=True)
    image = container.commit(repository=_name(), tag="1", changes=[
        "ENV GREETING=hello", "EXPOSE 8080/tcp", "LABEL team=payments", 'ENTRYPOINT ["/bin/sh"]',
    ])  # fmt: skip
    container.remove()
    image_of.made.append((client, image.id))
    user = client.containers.create(image.id, ["-c", "true"], network_disabled=True, name=_name())
    try:
        text = admin_client.get(f"/hosts/unix-1/images/{image.id[7:19]}/").content.decode()
        for expected in ("GREETING=hello", "8080/tcp", "team=payments", "[&quot;/bin/sh&quot;]", "linux/amd64",
                         f"/hosts/unix-1/containers/{user.id[:12]}/", user.name):  # fmt: skip
            assert expected in text
        inspect = admin_client.get(f"/hosts/unix-1/images/{image.id[7:19]}/inspect/").content.decode()
        assert "&quot;RootFS&quot;" in inspect
    finally:
        user.remove(force=True)


def test_list_counts_containers_filters_dangling_and_sorts(admin_client, hosts, docker_env, image_of):
    repo = _name()
    image_id = image_of("unix-1", repo)
    dangling = image_of("unix-1")
    users = [docker_env.client("unix-1").containers.create(image_id, ["true"], network_disabled=True) for _ in range(2)]
    try:
        tree = html_tree(admin_client.get(f"/hosts/unix-1/images/?reference={repo}"))
        rows = table_rows(tree.find("table"))
        assert [(c["Repository"].text(), c["Containers"].text()) for _, c in rows] == [(repo, "2")]
        tree = html_tree(admin_client.get("/hosts/unix-1/images/?dangling=1"))
        ids = [c["Image id"].text() for _, c in table_rows(tree.find("table"))]
        assert dangling[7:19] in ids and image_id[7:19] not in ids
        tree = html_tree(admin_client.get("/images/?sort=size&host=unix-1"))
        sizes = [int(c["Size"].attrs["title"].split()[0]) for _, c in table_rows(tree.find("table"))]
        assert sizes == sorted(sizes) and len(sizes) >= 3
    finally:
        for user in users:
            user.remove()


def test_label_scoped_operator_cannot_change_images(client, make_user, hosts, docker_env, image_of):
    repo = _name()
    image_id = image_of("unix-1", repo)
    client.force_login(make_user("ops", role="Operator", host=hosts["unix-1"], label="team=payments"))
    response = client.post(f"/hosts/unix-1/images/{image_id[7:19]}/action/", {"action": "tag", "reference": f"{repo}:x"})
    assert response.status_code == 403
    assert f"{repo}:x" not in docker_env.client("unix-1").images.get(image_id).tags
    assert AuditEntry.objects.filter(action="image.tag", outcome="denied").count() == 1


def test_prune_unused_names_tagged_images_no_container_uses(admin_client, hosts, docker_env, image_of):
    unused, used = image_of("unix-1", _name()), image_of("unix-1", _name())
    user = docker_env.client("unix-1").containers.create(used, ["true"], network_disabled=True)
    try:
        page = admin_client.get("/hosts/unix-1/images/prune/?unused=1").content.decode()
        assert unused[7:19] in page and used[7:19] not in page
        response = admin_client.post("/hosts/unix-1/images/prune/", {"id": [unused, used], "unused": "1"})
        assert "skipped" in response.content.decode()
        with pytest.raises(docker.errors.ImageNotFound):
            docker_env.client("unix-1").images.get(unused)
        assert docker_env.client("unix-1").images.get(used)
    finally:
        user.remove()


def test_save_several_images_as_one_tar(admin_client, hosts, image_of):
    first, second = _name(), _name()
    image_of("unix-1", first)
    image_of("unix-1", second)
    response = admin_client.post("/images/actions/", {"action": "save", "i": [f"unix-1/{first}:1", f"unix-1/{second}:1"]})
    assert response.status_code == 200 and response["Content-Disposition"].endswith('"images.tar"')
    with tarfile.open(fileobj=io.BytesIO(b"".join(response.streaming_content))) as tar:
        manifest = json.load(tar.extractfile("manifest.json"))
    assert sorted(tag for image in manifest for tag in image["RepoTags"]) == sorted([f"{first}:1", f"{second}:1"])
    mixed = admin_client.post("/images/actions/", {"action": "save", "i": [f"unix-1/{first}:1", f"unix-2/{second}:1"]})
    assert mixed.status_code == 302


def test_a_raw_upload_over_the_limit_is_refused(admin_client, hosts, settings):
    settings.IMAGE_UPLOAD_MAX_BYTES = 1000
    response = admin_client.post("/hosts/unix-1/images/load/", b"x" * 5000, content_type="application/x-tar")
    assert response.status_code == 400 and "over the limit of 1000 bytes" in response.content.decode()
    assert AuditEntry.objects.get(action="image.load").outcome == "failed"
