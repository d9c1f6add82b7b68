"""Out of scope looks exactly like absent: hosts one may not manage, containers outside a
label grant, whole-host counts, and the daemon's storage folder in Docker's errors. The
difference lives in the audit trail only."""

import re
import uuid

import docker.errors
import pytest
from django.template.loader import render_to_string
from django.test import Client

from console import gateway, middleware
from console.audit.models import AuditEntry
from tests.harness import TEST_IMAGE

CSRF = re.compile(rb'(csrfmiddlewaretoken" value="|"X-CSRFToken": ")[^"]+')


def same_page(response):
    """Status and body, without what differs on every request (CSRF tokens; the request
    id travels in a header only)."""
    content = b"".join(response.streaming_content) if response.streaming else response.content
    return response.status_code, CSRF.sub(rb"\1", content)


def login(user):
    client = Client()
    client.force_login(user)
    return client


# --- hosts ------------------------------------------------------------------------------


HOST_REQUESTS = [
    ("get", "/hosts/{}/edit/", {}),
    ("post", "/hosts/{}/edit/", {"name": "taken", "url": "unix:///x.sock"}),
    ("get", "/hosts/{}/delete/", {}),
    ("post", "/hosts/{}/delete/", {}),
    ("post", "/hosts/{}/test/", {}),
    ("get", "/hosts/{}/", {}),
    ("get", "/hosts/{}/containers/", {}),
]


@pytest.mark.parametrize("method, url, data", HOST_REQUESTS)
def test_a_host_out_of_reach_answers_like_a_missing_one(method, url, data, hosts, make_user):
    web = login(make_user("viewer", role="Viewer", host=hosts["unix-2"]))
    existing = getattr(web, method)(url.format("unix-1"), data)
    missing = getattr(web, method)(url.format("no-such-host"), data)
    assert same_page(existing) == same_page(missing)
    assert existing.status_code in (403, 404)
    assert hosts["unix-1"].__class__.objects.filter(name="unix-1").exists()
    denied = AuditEntry.objects.filter(outcome="denied", actor_name="viewer")
    assert denied.filter(target_name="unix-1").exists()  # the attempt is on the record


def test_the_connection_test_form_is_refused_before_it_is_read(hosts, make_user):
    web = login(make_user("viewer", role="Viewer"))
    response = web.post("/hosts/test/", {"name": "", "url": "not a url", "pk": "²"})
    assert response.status_code == 403
    assert AuditEntry.objects.get(outcome="denied").action == "host.test"


def test_a_connection_test_with_a_bad_pk_is_a_400(hosts, admin_client):
    for pk in ("²", "9" * 40, "abc", "-1"):
        response = admin_client.post("/hosts/test/", {"name": "x", "url": "unix:///nowhere.sock", "pk": pk})
        assert response.status_code == 400 and "The parameter “pk” is a whole number." in response.content.decode()
    response = admin_client.post("/hosts/test/", {"name": "x", "url": "unix:///nowhere.sock", "pk": ""})
    assert response.status_code == 200 and "socket does not exist" in response.content.decode()


def test_a_missing_host_is_a_404_for_an_admin(hosts, admin_client):
    for url in ("/hosts/no-such/edit/", "/hosts/no-such/delete/", "/hosts/./edit/"):
        assert admin_client.get(url).status_code == 404


# --- containers -------------------------------------------------------------------------


CONTAINER_REQUESTS = [
    ("get", "", {}), ("get", "inspect/", {}), ("get", "top/", {}), ("get", "top/", {"ps": "auxe"}),
    ("get", "diff/", {}), ("post", "action/", {"action": "stop", "timeout": "1"}),
    ("post", "action/", {"action": "rename", "new_name": "stolen"}), ("get", "commit/", {}),
    ("post", "commit/", {"repository": "stolen"}), ("get", "files/", {"path": "/etc"}),
    ("get", "files/download/", {"path": "/etc/hostname"}), ("get", "export/", {}),
    ("post", "files/upload/", {"path": "/tmp"}),
]


@pytest.fixture
def labelled(docker_env):
    """A running container of team b on unix-1, removed at the end."""
    client = docker_env.client("unix-1")
    container = client.containers.run(
        TEST_IMAGE, "sleep 300", detach=True, network_disabled=True,
        name=f"theirs-{uuid.uuid4().hex[:8]}", labels={"team": "b"},
    )  # fmt: skip
    yield container
    try:
        container.remove(force=True)
    except docker.errors.NotFound:
        pass


def _docker_calls(monkeypatch):
    calls = []
    original = gateway.call
    monkeypatch.setattr(gateway, "call", lambda host, fn, probe=False: calls.append(1) or original(host, fn, probe))
    return calls


def test_a_container_out_of_scope_answers_like_a_missing_one(hosts, make_user, labelled, monkeypatch):
    """The same container name, asked while it exists out of scope and after it is gone:
    the same status, the same bytes, the same number of Docker calls; both denied on the record."""
    web = login(make_user("dev", role="Operator", host=hosts["unix-1"], label="team=a"))
    calls = _docker_calls(monkeypatch)
    base = f"/hosts/unix-1/containers/{labelled.name}/"
    existing = []
    for method, url, data in CONTAINER_REQUESTS:
        before = len(calls)
        existing.append((same_page(getattr(web, method)(base + url, data)), len(calls) - before))
    labelled.reload()
    assert labelled.status == "running" and labelled.name.startswith("theirs-")  # untouched
    labelled.remove(force=True)
    for (method, url, data), (page, docker_calls) in zip(CONTAINER_REQUESTS, existing, strict=True):
        before = len(calls)
        assert same_page(getattr(web, method)(base + url, data)) == page, url
        assert len(calls) - before == docker_calls, url
        assert page[0] == 404 and labelled.id.encode() not in page[1]
    denied = AuditEntry.objects.filter(actor_name="dev", outcome="denied")
    assert denied.filter(target_id=labelled.id).count() == len(CONTAINER_REQUESTS)  # out of scope
    assert denied.filter(target_id=labelled.name).count() == len(CONTAINER_REQUESTS)  # missing


def test_bulk_reports_out_of_scope_as_missing(hosts, make_user, labelled):
    web = login(make_user("dev", role="Operator", host=hosts["unix-1"], label="team=a"))
    data = {"action": "stop", "c": f"unix-1/{labelled.name}"}
    out_of_scope = same_page(web.post("/containers/actions/", data))
    labelled.remove(force=True)
    assert same_page(web.post("/containers/actions/", data)) == out_of_scope
    assert b'data-outcome="failed"' in out_of_scope[1]


# --- counts and paths -------------------------------------------------------------------


def test_whole_host_counts_only_for_those_who_see_the_whole_host(hosts, make_user, admin_client):
    scoped = login(make_user("dev", role="Operator", host=hosts["unix-1"], label="team=a"))
    row = re.compile(r'<tr data-host="unix-1">.*?</tr>', re.S)
    cells = lambda page: re.findall(r"<td>([^<]*)</td>", row.search(page).group(0))  # noqa: E731
    assert all(c.isdigit() for c in cells(admin_client.get("/hosts/").content.decode())[1:5])
    shown = cells(scoped.get("/hosts/").content.decode())[1:5]
    assert shown[:3] == ["—"] * 3 and shown[3].isdigit()  # images belong to the host: readable
    detail = scoped.get("/hosts/unix-1/").content.decode()
    assert "<dt>Containers</dt>" not in detail and "<dt>Images</dt>" in detail
    assert "Docker root" not in detail
    full = admin_client.get("/hosts/unix-1/").content.decode()
    assert "<dt>Containers</dt>" in full and "<dt>Images</dt>" in full


def test_docker_errors_never_show_the_daemon_storage(hosts, admin_client, labelled, docker_env):
    root = docker_env.client("unix-1").info()["DockerRootDir"]
    page = admin_client.get(f"/hosts/unix-1/containers/{labelled.name}/files/", {"path": "/etc/passwd/x"})
    text = page.content.decode()
    assert page.status_code >= 400 and "/etc/passwd/x: not a directory" in text
    assert root not in text and "overlay2" not in text
    errors = "".join(AuditEntry.objects.values_list("error", flat=True))
    assert "/etc/passwd/x: not a directory" in errors and root not in errors


def test_storage_paths_are_stripped_from_messages():
    layer = "0" * 64
    assert gateway.without_storage_paths(
        f"lstat /var/lib/docker/overlay2/{layer}/merged/etc/x: not a directory"
    ) == "lstat /etc/x: not a directory"
    assert gateway.without_storage_paths(
        f"open /var/lib/docker/containers/{layer}/hostconfig.json: no such file"
    ) == "open (a folder of the Docker daemon): no such file"
    assert gateway.without_storage_paths("mkdir /srv/docker/volumes/db/_data/x: denied") == "mkdir /x: denied"
    assert gateway.without_storage_paths("no such file /etc/nope in container") == "no such file /etc/nope in container"


def test_a_host_out_of_reach_answers_like_any_missing_page(hosts, make_user):
    """HostNotFound (a domain error) is rendered as Django renders any 404: the same page,
    and for htmx the fragment every Http404 of a view gets."""
    web = login(make_user("viewer", role="Viewer", host=hosts["unix-2"]))
    assert same_page(web.get("/hosts/unix-1/containers/")) == same_page(web.get("/no/such/page/"))
    fragment = web.get("/hosts/unix-1/containers/", headers={"HX-Request": "true"})
    expected = render_to_string("partials/_error.html", {"message": middleware.NOT_FOUND})
    assert (fragment.status_code, fragment.content.decode()) == (404, expected)
