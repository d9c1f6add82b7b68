"""The file browser (`docker cp` both ways) and `docker export`, against the real daemons."""

import html
import io
import tarfile
import uuid

import docker.errors
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import AsyncClient

from console.audit.models import AuditEntry
from console.containers.files_services import member_problem, normalize_path
from console.errors import WharfError
from tests.conftest import actor_for, run_async
from tests.harness import TEST_IMAGE

ODD_NAME = 'we ird "name" <b>ü.txt'
BOTH = pytest.mark.parametrize("host_name", ["unix-1", "tls-1"])


@pytest.fixture
def make_container(docker_env):
    made = []

    def make(host_name="unix-1", running=True, labels=None):
        client = docker_env.client(host_name)
        name = f"c2f-{uuid.uuid4().hex[:10]}"
        container = client.containers.create(
            TEST_IMAGE, "sleep 300", name=name, network_mode="none", labels=labels or {}
        )
        made.append(container)
        if running:
            container.start()
        return container

    yield make
    for container in made:
        try:
            container.remove(force=True)
        except docker.errors.NotFound:
            pass


def body(response):
    return b"".join(response.streaming_content)


def read_in_container(container, path):
    chunks, _ = container.get_archive(path)
    with tarfile.open(fileobj=io.BytesIO(b"".join(chunks))) as tar:
        member = tar.next()
        return tar.extractfile(member).read()


def files_url(host_name, container, what=""):
    return f"/hosts/{host_name}/containers/{container.name}/{what}"


# --- paths -------------------------------------------------------------------------


def test_paths_are_normalized_inside_the_container():
    assert normalize_path("/etc/../../x") == "/x"
    assert normalize_path("//etc//./passwd/") == "/etc/passwd"
    assert normalize_path("") == "/"
    for bad in ("etc/passwd", "../etc", "/etc\0x"):
        with pytest.raises(WharfError):
            normalize_path(bad)


def _member(name, kind=tarfile.REGTYPE, link=""):
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, link
    return info


@pytest.mark.parametrize(
    "name, kind, link, problem",
    [
        ("a/b.txt", tarfile.REGTYPE, "", None),
        ("./a/../b", tarfile.REGTYPE, "", "“..” in its name"),
        ("../evil", tarfile.REGTYPE, "", "“..” in its name"),
        ("/etc/passwd", tarfile.REGTYPE, "", "absolute name"),
        ("l", tarfile.SYMTYPE, "sub/x", None),
        ("d/l", tarfile.SYMTYPE, "../x", None),
        ("d/l", tarfile.SYMTYPE, "../../x", "link to ../../x, outside the folder"),
        ("l", tarfile.SYMTYPE, "/etc", "link to /etc, outside the folder"),
        ("l", tarfile.SYMTYPE, "/data/in/here", None),
        ("h", tarfile.LNKTYPE, "../x", "hard link to ../x, outside the folder"),
        ("null", tarfile.CHRTYPE, "", "device file or pipe"),
    ],
)
def test_tar_members_that_would_leave_the_folder_are_refused(name, kind, link, problem):
    assert member_problem(_member(name, kind, link), "/data") == problem


def test_links_of_the_archive_cannot_be_used_to_climb_out():
    links = {"up"}  # "up" -> "." came earlier: "up/.." is the folder's parent
    assert member_problem(_member("x", tarfile.SYMTYPE, "up/../../x"), "/data", links)
    assert member_problem(_member("up/../y"), "/data", links)
    assert member_problem(_member("up/y"), "/data", links) == "path through a link of the archive"


# --- browsing ----------------------------------------------------------------------


@BOTH
def test_a_folder_lists_names_sizes_modes_and_links(admin_client, hosts, make_container, host_name):
    container = make_container(host_name, running=False)  # stopped containers can be browsed too
    response = admin_client.get(files_url(host_name, container, "files/"), {"path": "/etc/../../etc"})
    page = response.content.decode()
    assert response.status_code == 200, page
    listing = response.context["listing"]
    assert listing.path == "/etc"
    entries = {e.name: e for e in listing.entries}
    assert entries["passwd"].kind == "file" and entries["passwd"].size > 0
    assert entries["passwd"].mode == "-rw-r--r--"
    assert entries["mtab"].kind == "link" and entries["mtab"].link_target == "/proc/mounts"
    assert "passwd" in page and "/proc/mounts" in page
    root = admin_client.get(files_url(host_name, container, "files/"), {"path": "/"}).context["listing"]
    assert {"bin", "etc"} <= {e.name for e in root.entries if e.kind == "folder"}


def test_a_file_shows_its_details_and_a_link_its_target(admin_client, hosts, make_container):
    container = make_container()
    listing = admin_client.get(files_url("unix-1", container, "files/"), {"path": "/bin/busybox"}).context[
        "listing"
    ]
    assert listing.this.kind == "file" and listing.this.size > 100_000 and listing.entries == []
    response = admin_client.get(files_url("unix-1", container, "files/"), {"path": "/bin/sh"})
    assert response.context["listing"].this.link_target == "/bin/busybox"
    assert "?path=/bin/busybox" in response.content.decode()


def test_a_huge_folder_is_listed_up_to_the_cap(admin_client, hosts, make_container, monkeypatch):
    from console.containers import files_services

    monkeypatch.setattr(files_services, "MAX_ENTRIES", 10)
    container = make_container()
    listing = admin_client.get(files_url("unix-1", container, "files/"), {"path": "/bin"}).context["listing"]
    assert len(listing.entries) == 10 and listing.truncated


def test_a_missing_path_says_so(admin_client, hosts, make_container):
    container = make_container()
    response = admin_client.get(files_url("unix-1", container, "files/"), {"path": "/nope"})
    assert response.status_code == 404
    assert "no such file or folder in container: /nope" in response.content.decode()
    response = admin_client.get(files_url("unix-1", container, "files/download/"), {"path": "/nope/x"})
    assert response.status_code == 404
    entry = AuditEntry.objects.get(action="container.download")
    assert entry.outcome == "failed" and "/nope/x" in entry.error


# --- download and upload -------------------------------------------------------------


@BOTH
def test_a_file_with_an_odd_name_goes_up_and_comes_back(admin_client, hosts, make_container, host_name):
    container = make_container(host_name)
    content = b"first line\n" + bytes(range(256)) * 64
    upload = SimpleUploadedFile(ODD_NAME, content)
    response = admin_client.post(
        files_url(host_name, container, "files/upload/"), {"path": "/tmp/../tmp", "files": [upload]}
    )
    assert response.status_code == 302, response.content.decode()
    assert response["Location"].endswith("?path=%2Ftmp")
    assert read_in_container(container, f"/tmp/{ODD_NAME}") == content

    page = admin_client.get(response["Location"]).content.decode()
    assert html.escape(ODD_NAME) in page and "<b>ü" not in page

    response = admin_client.get(
        files_url(host_name, container, "files/download/"), {"path": f"/tmp/{ODD_NAME}"}
    )
    assert response.status_code == 200
    assert body(response) == content
    assert response["Content-Type"] == "application/octet-stream"
    assert response["Content-Length"] == str(len(content))
    assert "filename*=utf-8''we%20ird%20%22name%22%20%3Cb%3E%C3%BC.txt" in response["Content-Disposition"]

    up, down = AuditEntry.objects.filter(action__in=["container.upload", "container.download"]).order_by("id")
    assert (up.action, up.outcome, up.params["files"], up.params["path"]) == (
        "container.upload", "succeeded", [ODD_NAME], "/tmp"
    )  # fmt: skip
    assert (down.outcome, down.size_bytes) == ("succeeded", len(content))


def test_a_folder_downloads_as_a_tar(admin_client, hosts, make_container):
    container = make_container()
    response = admin_client.get(files_url("unix-1", container, "files/download/"), {"path": "/etc"})
    assert response["Content-Type"] == "application/x-tar"
    assert 'filename="etc.tar"' in response["Content-Disposition"]
    data = body(response)
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        assert {"etc", "etc/passwd", "etc/hostname"} <= set(tar.getnames())
        assert b"root:" in tar.extractfile("etc/passwd").read()
    assert AuditEntry.objects.get(action="container.download").size_bytes == len(data)


@pytest.mark.django_db(transaction=True)  # the ASGI handler's threads use their own connections
@pytest.mark.django_db(transaction=True)  # the download is read from worker threads
def test_downloads_stream_under_asgi_too(hosts, admin_user, make_container):
    container = make_container()

    async def fetch():
        client = AsyncClient()
        await client.aforce_login(admin_user)
        response = await client.get(
            files_url("unix-1", container, "files/download/"), {"path": "/bin/busybox"}
        )
        return response, b"".join([chunk async for chunk in response.streaming_content])

    response, data = run_async(fetch())
    assert response.status_code == 200 and data == read_in_container(container, "/bin/busybox")


def _tar(*members):
    """A tar of (name, type, link or data) triples."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, kind, extra in members:
            info = tarfile.TarInfo(name)
            info.type = kind
            if kind == tarfile.REGTYPE:
                info.size = len(extra)
                tar.addfile(info, io.BytesIO(extra))
            else:
                info.linkname = extra
                tar.addfile(info)
    return buffer.getvalue()


def test_a_tar_is_extracted_into_the_folder(admin_client, hosts, make_container):
    container = make_container()
    data = _tar(("app", tarfile.DIRTYPE, ""), ("app/run.sh", tarfile.REGTYPE, b"echo hi\n"),
                ("app/current", tarfile.SYMTYPE, "run.sh"))  # fmt: skip
    upload = SimpleUploadedFile("app.tar", data)
    response = admin_client.post(
        files_url("unix-1", container, "files/upload/"), {"path": "/srv", "files": [upload], "extract": "on"}
    )
    assert response.status_code == 404  # /srv does not exist in busybox
    assert "no such file or folder in container: /srv" in response.content.decode()
    upload = SimpleUploadedFile("app.tar", data)
    response = admin_client.post(
        files_url("unix-1", container, "files/upload/"), {"path": "/tmp", "files": [upload], "extract": "on"}
    )
    assert response.status_code == 302
    assert read_in_container(container, "/tmp/app/run.sh") == b"echo hi\n"


@pytest.mark.parametrize(
    "members",
    [
        [("../evil", tarfile.REGTYPE, b"x")],
        [("/evil", tarfile.REGTYPE, b"x")],
        [("ok", tarfile.REGTYPE, b"x"), ("sub/../../evil", tarfile.REGTYPE, b"x")],
        [("evil", tarfile.SYMTYPE, "/etc")],
        [("evil", tarfile.SYMTYPE, "../etc")],
        [("evil", tarfile.LNKTYPE, "../etc/passwd")],
    ],
    ids=["dotdot", "absolute", "dotdot-later", "symlink-absolute", "symlink-up", "hardlink-up"],
)
def test_a_tar_that_climbs_out_is_refused_whole(admin_client, hosts, make_container, members):
    container = make_container()
    container.exec_run("mkdir -p /tmp/inbox")
    upload = SimpleUploadedFile("evil.tar", _tar(*members))
    response = admin_client.post(
        files_url("unix-1", container, "files/upload/"),
        {"path": "/tmp/inbox", "files": [upload], "extract": "on"},
    )
    assert response.status_code == 400
    assert "Refused:" in response.content.decode()
    listing = admin_client.get(files_url("unix-1", container, "files/"), {"path": "/tmp"}).context["listing"]
    assert [e.name for e in listing.entries] == ["inbox"]
    assert (
        admin_client.get(files_url("unix-1", container, "files/"), {"path": "/tmp/inbox"})
        .context["listing"]
        .entries
        == []
    )
    entry = AuditEntry.objects.get(action="container.upload")
    assert entry.outcome == "failed" and entry.error.startswith("Refused:")


def test_uploads_over_the_limit_are_refused(admin_client, hosts, make_container, settings):
    settings.CONTAINER_UPLOAD_MAX_BYTES = 100
    container = make_container()
    upload = SimpleUploadedFile("big.bin", b"x" * 5000)
    response = admin_client.post(
        files_url("unix-1", container, "files/upload/"), {"path": "/tmp", "files": [upload]}
    )
    assert response.status_code == 413
    assert "over the limit of 100 bytes" in response.content.decode()
    with pytest.raises(docker.errors.NotFound):
        container.get_archive("/tmp/big.bin")


# --- export ---------------------------------------------------------------------------


@BOTH
def test_export_streams_the_filesystem_as_a_tar(admin_client, hosts, make_container, host_name):
    container = make_container(host_name, running=False)
    response = admin_client.get(files_url(host_name, container, "export/"))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/x-tar"
    assert f'attachment; filename="{container.name}.tar"' == response["Content-Disposition"]
    data = body(response)
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        assert tar.getmember("bin/busybox").size > 100_000
    entry = AuditEntry.objects.get(action="container.export")
    assert (entry.outcome, entry.size_bytes, entry.target_name) == ("succeeded", len(data), container.name)


def test_an_abandoned_export_is_recorded_as_cancelled(admin_user, hosts, make_container):
    from console.containers import files_services
    from console.containers.services import container_target

    container = make_container()
    host = hosts["unix-1"]
    chunks = files_services.container_export(
        actor=actor_for(admin_user), host=host, container=container_target(actor_for(admin_user), host, container.name, "container.export")
    )
    first = next(chunks)
    chunks.close()  # as a server does when the browser goes away
    entry = AuditEntry.objects.get(action="container.export")
    assert entry.outcome == "failed" and entry.error == "cancelled" and entry.size_bytes == len(first)


# --- who may -----------------------------------------------------------------------------


def test_viewer_may_browse_but_not_download_upload_or_export(client, make_user, hosts, make_container):
    container = make_container()
    client.force_login(make_user("viewer", role="Viewer"))
    response = client.get(files_url("unix-1", container, "files/"), {"path": "/etc"})
    assert response.status_code == 403  # the Viewer role has no container.files
    for url, data in [
        (files_url("unix-1", container, "files/download/"), {"path": "/etc/passwd"}),
        (files_url("unix-1", container, "export/"), {}),
    ]:
        assert client.get(url, data).status_code == 403
    upload = SimpleUploadedFile("x.txt", b"x")
    response = client.post(
        files_url("unix-1", container, "files/upload/"), {"path": "/tmp", "files": [upload]}
    )
    assert response.status_code == 403
    denied = AuditEntry.objects.filter(outcome="denied").order_by("id")
    assert [e.action for e in denied] == [
        "container.files", "container.download", "container.export", "container.upload"
    ]  # fmt: skip
    assert AuditEntry.objects.exclude(outcome="denied").filter(action__startswith="container.").count() == 0
    with pytest.raises(docker.errors.NotFound):
        container.get_archive("/tmp/x.txt")


def test_label_scoped_operator_downloads_only_from_its_containers(client, make_user, hosts, make_container):
    ours = make_container(labels={"team": "blue"})
    theirs = make_container(labels={"team": "red"})
    client.force_login(make_user("blue-op", role="Operator", host=hosts["unix-1"], label="team=blue"))
    response = client.get(files_url("unix-1", ours, "files/download/"), {"path": "/etc/hostname"})
    assert response.status_code == 200 and body(response).strip()
    response = client.get(files_url("unix-1", theirs, "files/download/"), {"path": "/etc/hostname"})
    assert response.status_code == 404  # out of scope looks absent
    denied = AuditEntry.objects.get(outcome="denied")
    assert (denied.action, denied.target_name) == ("container.download", theirs.name)
