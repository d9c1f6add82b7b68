"""`docker pull` and `docker push` through the console, against the real test daemons and
the test registry (basic auth): stored credentials lent to the daemon and never shown,
a clear message without them, progress while a pull runs, scope, and the browser."""

import json
import logging
import uuid

import pytest

from console.audit.models import AuditEntry
from console.errors import WharfError
from console.images import transfer
from console.registries.models import Registry
from tests.conftest import actor_for, client_of, login, run_async
from tests.harness import TEST_IMAGE
from tests.test_logs import LIVE, communicator, cookie_for, wait_for_entry


@pytest.fixture
def registry(docker_env, db):
    spec = docker_env.registry
    return Registry.objects.create(name="test-registry", address=spec.address, plain_http=True,
                                   username=spec.username, password=spec.password)  # fmt: skip


def _repository(docker_env, name="pull"):
    return f"{docker_env.registry.address}/{name}-{uuid.uuid4().hex[:8]}/app"


def _big_image(docker, repository):
    """An image with a layer of 24 MB of random bytes (so that a pull takes a while)."""
    container = docker.containers.run(TEST_IMAGE, ["sh", "-c", "head -c 25165824 /dev/urandom > /big"],
                                      network_disabled=True, detach=True)  # fmt: skip
    container.wait(timeout=60)
    image = container.commit(repository, "big")
    container.remove()
    return image


def _push_raw(docker_env, docker, reference):
    spec = docker_env.registry
    repository, _, tag = reference.rpartition(":")
    auth = {"username": spec.username, "password": spec.password}
    answer = list(docker.api.push(repository, tag=tag, auth_config=auth, stream=True, decode=True))
    assert not [line for line in answer if "error" in line], answer


def test_references_as_docker_reads_them():
    parse = transfer.Reference.parse
    assert parse("busybox") == transfer.Reference("busybox", "latest", "", "")
    assert parse("127.0.0.1:5000/team/app:1.0") == transfer.Reference("127.0.0.1:5000/team/app", "1.0", "", "127.0.0.1:5000")
    digest = "sha256:" + "a" * 64
    assert str(parse(f"library/busybox@{digest}")) == f"library/busybox@{digest}"
    assert parse("library/busybox").registry == ""
    for bad in ("", "Upper", "a:b:c", "x/../y", "a@sha256:short"):
        with pytest.raises(WharfError):
            parse(bad)


def test_the_registry_a_reference_names_lends_its_credentials(db):
    Registry.objects.create(name="hub", kind="hub", username="me", password="secret-hub")
    Registry.objects.create(name="local", address="127.0.0.1:5000", plain_http=True, username="u", password="p")
    Registry.objects.create(name="bare", address="127.0.0.2:5000", plain_http=True)
    lent = {text: transfer._credentials(transfer.Reference.parse(text)) for text in
            ("busybox", "docker.io/library/busybox:1", "127.0.0.1:5000/app", "127.0.0.2:5000/app", "other.io/app")}  # fmt: skip
    assert lent["busybox"] == lent["docker.io/library/busybox:1"] == (
        "hub", {"username": "me", "password": "secret-hub", "serveraddress": "https://index.docker.io/v1/"})  # fmt: skip
    assert lent["127.0.0.1:5000/app"] == ("local", {"username": "u", "password": "p", "serveraddress": "127.0.0.1:5000"})
    assert lent["127.0.0.2:5000/app"] == ("bare", None) and lent["other.io/app"] == ("", None)


def test_push_from_one_host_and_pull_on_another_with_stored_credentials(
    hosts, admin_user, registry, docker_env, docker_of, caplog
):
    caplog.set_level(logging.DEBUG)
    password = docker_env.registry.password
    actor = actor_for(admin_user)
    reference = f"{_repository(docker_env)}:1.0"
    one, two = docker_of("unix-1"), docker_of("unix-2")
    image = one.images.get(TEST_IMAGE)
    image.tag(*reference.rsplit(":", 1))

    pushed = transfer.transfer_all(transfer.open_push(actor=actor, host=hosts["unix-1"], text=reference))
    assert pushed, "no progress at all"
    transfer.transfer_all(transfer.open_pull(actor=actor, host=hosts["unix-2"], text=reference))

    assert two.images.get(reference).id == image.id
    entries = AuditEntry.objects.filter(action__in=("image.push", "image.pull")).order_by("id")
    assert [(e.action, e.outcome) for e in entries] == [("image.push", "succeeded"), ("image.pull", "succeeded")]
    assert all(e.params["registry"] == "test-registry" and e.duration_ms is not None for e in entries)
    assert not [row for row in AuditEntry.objects.values_list("params", "error", "target_name") if password in str(row)]
    assert password not in caplog.text
    page = client_of(admin_user).get(f"/hosts/unix-2/images/{image.id[7:19]}/")
    assert page.status_code == 200 and password.encode() not in page.content
    two.images.remove(reference)


def test_pull_without_credentials_says_a_login_is_needed(hosts, admin_user, docker_env, docker_of):
    reference = f"{_repository(docker_env)}:1.0"
    docker_of("unix-1").images.get(TEST_IMAGE).tag(*reference.rsplit(":", 1))
    _push_raw(docker_env, docker_of("unix-1"), reference)

    with pytest.raises(WharfError, match="the registry asked for a login: add its credentials under Registries"):
        transfer.transfer_all(transfer.open_pull(actor=actor_for(admin_user), host=hosts["unix-2"], text=reference))
    entry = AuditEntry.objects.get(action="image.pull")
    assert entry.outcome == "failed" and "asked for a login" in entry.error


def test_wrong_stored_credentials_are_named_never_shown(hosts, admin_user, docker_env, docker_of, caplog):
    caplog.set_level(logging.DEBUG)
    spec, wrong = docker_env.registry, f"not-the-password-{uuid.uuid4().hex}"
    Registry.objects.create(name="test-registry", address=spec.address, plain_http=True,
                            username=spec.username, password=wrong)  # fmt: skip
    reference = f"{_repository(docker_env)}:1.0"
    docker_of("unix-1").images.get(TEST_IMAGE).tag(*reference.rsplit(":", 1))

    with pytest.raises(WharfError, match="the registry refused the credentials stored for test-registry") as caught:
        transfer.transfer_all(transfer.open_push(actor=actor_for(admin_user), host=hosts["unix-1"], text=reference))
    entry = AuditEntry.objects.get(action="image.push")
    assert entry.outcome == "failed" and entry.params["credentials"] is True
    assert wrong not in str(caught.value) + str(entry.params) + entry.error + caplog.text
    docker_of("unix-1").images.remove(reference)


def _pull_over_socket(cookie, host_name, reference, on_first=None):
    """The messages of a pull over the websocket, up to its end; `on_first()` runs when
    the first progress message arrives (the pull is still going on then)."""

    async def run():
        socket = communicator(f"/ws/hosts/{host_name}/images/pull/?ref={reference}", cookie)
        connected, code = await socket.connect(timeout=60)
        assert connected, code
        messages = []
        while not messages or messages[-1]["t"] != "end":
            messages.append(json.loads(await socket.receive_from(timeout=120)))
            if len(messages) == 1 and on_first:
                on_first()
        await socket.disconnect()
        return messages

    return run_async(run())


@LIVE
def test_progress_arrives_while_the_pull_runs(hosts, admin_user, registry, docker_env, docker_of):
    reference = f"{_repository(docker_env)}:big"
    one, two = docker_of("unix-1"), docker_of("unix-2")
    image = _big_image(one, reference.rsplit(":", 1)[0])
    _push_raw(docker_env, one, reference)
    present_at_first = []

    def first():
        present_at_first.append(any(reference in i.tags for i in two.images.list()))

    messages = _pull_over_socket(cookie_for(admin_user), "unix-2", reference, on_first=first)

    assert present_at_first == [False], "the first progress message came after the pull ended"
    progress = [m for m in messages if m["t"] == "progress"]
    assert len(progress) >= 3, messages
    moving = [m for m in progress if {"Downloading", "Extracting"} & {x["status"] for x in m["layers"].values()}]
    assert moving, "no message while the layers were on their way"
    assert messages[-1]["failed"] is False and two.images.get(reference).id == image.id
    entry = wait_for_entry(action="image.pull")
    assert entry.outcome == "succeeded" and entry.size_bytes >= 24 * 1024 * 1024 * 0.9
    two.images.remove(reference)


@LIVE
def test_closing_the_socket_cancels_the_pull(hosts, admin_user, registry, docker_env, docker_of):
    reference = f"{_repository(docker_env)}:big"
    one = docker_of("unix-1")
    _big_image(one, reference.rsplit(":", 1)[0])
    _push_raw(docker_env, one, reference)
    cookie = cookie_for(admin_user)

    async def run():
        socket = communicator(f"/ws/hosts/unix-2/images/pull/?ref={reference}", cookie)
        connected, code = await socket.connect(timeout=60)
        assert connected, code
        await socket.receive_from(timeout=60)
        await socket.disconnect()

    run_async(run())
    entry = wait_for_entry(action="image.pull")
    assert entry.outcome == "failed" and "cancelled" in entry.error


@LIVE
def test_a_label_scoped_operator_is_refused_and_audited(hosts, make_user, registry, docker_env, docker_of):
    operator = make_user("scoped", role="Operator", host=hosts["unix-1"], label="team=a")
    reference = f"{_repository(docker_env)}:1.0"
    cookie = cookie_for(operator)

    async def run():
        socket = communicator(f"/ws/hosts/unix-1/images/pull/?ref={reference}", cookie)
        connected, code = await socket.connect(timeout=60)
        return connected, code

    connected, code = run_async(run())
    assert not connected and code == 4403
    entry = AuditEntry.objects.get(action="image.pull")
    assert entry.outcome == "denied" and entry.actor_name == "scoped"
    foreign = run_async(_refused_from(f"/ws/hosts/unix-1/images/pull/?ref={reference}", cookie, b"http://evil.example"))
    assert foreign is False
    assert AuditEntry.objects.filter(action="image.pull", error__contains="foreign origin").exists()
    page = client_of(operator).get("/hosts/unix-1/images/")
    assert b'id="pull-form"' not in page.content
    assert not any(reference in t for i in docker_of("unix-1").images.list() for t in i.tags)


async def _refused_from(path, cookie, origin):
    socket = communicator(path, cookie, origin)
    connected, _ = await socket.connect(timeout=60)
    await socket.disconnect()
    return connected


def test_the_page_offers_pull_and_push_and_never_the_password(hosts, admin_user, registry, docker_env, docker_of):
    client = client_of(admin_user)
    image_id = docker_of("unix-1").images.get(TEST_IMAGE).id[7:19]
    listing = client.get("/images/?pull=busybox")
    assert b'id="pull-form"' in listing.content and b'value="busybox"' in listing.content
    assert b"unix-2" in listing.content and b"pull.js" in listing.content
    image = client.get(f"/hosts/unix-1/images/{image_id}/")
    assert f'data-push="{TEST_IMAGE}"'.encode() in image.content
    for page in (listing, image, client.get("/registries/")):
        assert docker_env.registry.password.encode() not in page.content


# --- the browser ---------------------------------------------------------------------


def test_browser_pull_onto_two_hosts_push_back_and_the_audit_entries(
    page, hosts, admin_user, registry, docker_env, docker_of
):
    reference = f"{_repository(docker_env, 'browser')}:1.0"
    one = docker_of("unix-1")
    one.images.get(TEST_IMAGE).tag(*reference.rsplit(":", 1))
    _push_raw(docker_env, one, reference)
    one.images.remove(reference)
    login(page, admin_user.username)
    page.goto(f"/images/?pull={reference}")
    for name in ("unix-1", "unix-2"):  # onto both at once: a socket and a section each
        page.get_by_role("checkbox", name=name, exact=True).check()
    page.get_by_role("button", name="Pull", exact=True).click()
    done = page.locator("section.transfer.done")
    done.nth(1).wait_for(timeout=60000)
    for index in range(2):
        total = done.nth(index).locator("progress[data-total]")
        assert total.get_attribute("value") == total.get_attribute("max")
    assert page.locator("section.transfer.failed").count() == 0
    page.locator("#image-table td", has_text=reference.rsplit(":", 1)[0]).first.wait_for()  # the list refreshed
    assert docker_of("unix-1").images.get(reference).id == docker_of("unix-2").images.get(reference).id
    page.goto(f"/hosts/unix-2/images/{docker_of('unix-2').images.get(reference).id[7:19]}/")
    page.get_by_role("button", name=f"Push {reference}").click()
    page.locator("section.transfer.done").wait_for(timeout=60000)
    page.goto("/audit/?action=image.pull")
    assert page.get_by_text(reference).count() >= 2
    page.goto("/audit/?action=image.push")
    assert page.get_by_text(reference).count() >= 1
    for name in ("unix-1", "unix-2"):
        docker_of(name).images.remove(reference)
