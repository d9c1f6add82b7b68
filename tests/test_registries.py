"""Registries: stored credentials (encrypted, never shown, never audited, never in a
message), "Test login" through a daemon, the catalog search of the test registry
(basic auth), Docker Hub search without internet, the mirrors page, and who may do what."""

import io
import logging
import uuid

import pytest
from django.core.management import call_command
from django.db import connection

from console.audit.models import AuditEntry
from console.registries.models import Registry
from tests.harness import TEST_IMAGE


@pytest.fixture
def registry(docker_env, db):
    spec = docker_env.registry
    return Registry.objects.create(name="test-registry", address=spec.address, plain_http=True,
                                   username=spec.username, password=spec.password)  # fmt: skip


@pytest.fixture(scope="module")
def pushed(docker_env):
    """Two repositories pushed into the test registry (with docker-py, as a user would):
    the names of the first and the second."""
    spec = docker_env.registry
    client = docker_env.client("unix-1")
    namespace = f"found-{uuid.uuid4().hex[:6]}"
    for name in ("app", "app2"):
        repository = f"{spec.address}/{namespace}/{name}"
        client.images.get(TEST_IMAGE).tag(repository, "1.0")
        auth = {"username": spec.username, "password": spec.password}
        answer = list(client.api.push(repository, tag="1.0", auth_config=auth, stream=True, decode=True))
        assert not [line for line in answer if "error" in line], answer
        client.api.remove_image(f"{repository}:1.0")
    return f"{namespace}/app", f"{namespace}/app2"


def _every_trace(password):
    """Every place a password must never be: audit rows (params, errors), as stored."""
    rows = AuditEntry.objects.values_list("params", "error", "target_name")
    return [row for row in rows if password in str(row)]


def test_add_registry_keeps_the_password_secret(admin_client, docker_env, caplog, db):
    spec = docker_env.registry
    caplog.set_level(logging.DEBUG)
    response = admin_client.post("/registries/add/", {
        "name": "local", "kind": "v2", "address": spec.address, "plain_http": "on",
        "username": spec.username, "password": spec.password,
    })  # fmt: skip
    assert response.status_code == 302
    registry = Registry.objects.get(name="local")
    assert registry.password == spec.password
    with connection.cursor() as cursor:
        cursor.execute("SELECT password FROM registries_registry WHERE name='local'")
        assert spec.password not in cursor.fetchone()[0]
    for url in ("/registries/", "/registries/local/edit/", "/audit/"):
        assert spec.password not in admin_client.get(url).content.decode()
    assert not _every_trace(spec.password)
    assert spec.password not in caplog.text
    entry = AuditEntry.objects.get(action="registry.create")
    assert entry.params["password"] == "[redacted]" and entry.params["username"] == spec.username
    # an edit with an empty password keeps the stored one
    admin_client.post("/registries/local/edit/", {"name": "local", "kind": "v2", "address": spec.address,
                                                  "plain_http": "on", "username": spec.username, "password": ""})  # fmt: skip
    assert Registry.objects.get(name="local").password == spec.password


def test_test_login_through_a_daemon(admin_client, hosts, registry, docker_env, caplog):
    caplog.set_level(logging.DEBUG)
    response = admin_client.post("/registries/test-registry/test/", {"host": "unix-2"}, follow=True)
    assert "Login to test-registry through unix-2: Login Succeeded" in response.content.decode()
    wrong = "not-the-password-" + uuid.uuid4().hex
    registry.password = wrong
    registry.save()
    response = admin_client.post("/registries/test-registry/test/", {"host": "unix-2"}, follow=True)
    text = response.content.decode()
    assert "Login to test-registry through unix-2 failed" in text and "refused the username or password" in text
    assert wrong not in text and wrong not in caplog.text and not _every_trace(wrong)
    outcomes = list(AuditEntry.objects.filter(action="registry.use").order_by("id").values_list("outcome", flat=True))
    assert outcomes == ["succeeded", "failed"]
    # the daemon keeps nothing: its own config has no credentials
    assert "auths" not in str(docker_env.client("unix-2").info())


def test_catalog_search_finds_the_pushed_repository(admin_client, hosts, registry, pushed):
    pushed = pushed[0]
    response = admin_client.get("/images/search/", {"source": "test-registry", "term": pushed.split("/")[0]})
    text = response.content.decode()
    assert pushed in text
    response = admin_client.get("/images/search/", {"source": "test-registry", "repository": pushed})
    assert f"{registry.address}/{pushed}:1.0" in response.content.decode()


def test_catalog_search_pages(admin_client, hosts, registry, pushed):
    first, second = pushed
    namespace = first.split("/")[0]
    response = admin_client.get("/images/search/", {"source": "test-registry", "term": namespace, "limit": "1"})
    text = response.content.decode()
    assert f">{first}</a>" in text and f">{second}</a>" not in text
    more = f"last={first}\""
    assert more in text
    response = admin_client.get("/images/search/", {"source": "test-registry", "term": namespace, "limit": "1", "last": first})
    text = response.content.decode()
    assert f">{second}</a>" in text and f">{first}</a>" not in text


def test_catalog_with_a_wrong_password_says_so_without_it(admin_client, hosts, registry):
    registry.password = wrong = "wrong-" + uuid.uuid4().hex
    registry.save()
    text = admin_client.get("/images/search/", {"source": "test-registry", "term": "x"}).content.decode()
    assert "registry test-registry refused the stored credentials" in text and wrong not in text


def test_docker_hub_search_without_internet_says_so(admin_client, hosts):
    text = admin_client.get("/images/search/", {"source": "hub@unix-1", "term": "busybox"}).content.decode()
    assert "host unix-1 cannot reach Docker Hub" in text


def test_rotatekeys_reencrypts_registry_passwords(registry, settings, docker_env):
    from cryptography.fernet import Fernet

    settings.FERNET_KEYS = [Fernet.generate_key().decode(), *settings.FERNET_KEYS]
    out = io.StringIO()
    call_command("rotatekeys", stdout=out)
    assert "1 registry" in out.getvalue()
    settings.FERNET_KEYS = settings.FERNET_KEYS[:1]  # only the new key: the old tokens would not read
    assert Registry.objects.get(pk=registry.pk).password == docker_env.registry.password


def test_who_may_see_use_and_change_registries(client, make_user, hosts, registry):
    client.force_login(make_user("op", role="Operator"))
    assert client.get("/registries/").status_code == 200
    assert client.get("/registries/add/").status_code == 403
    assert client.post("/registries/test-registry/delete/").status_code == 403
    assert Registry.objects.filter(name="test-registry").exists()
    client.force_login(make_user("viewer", role="Viewer"))
    assert client.get("/registries/").status_code == 403
    assert client.get("/images/search/", {"source": "test-registry", "term": "x"}).status_code == 404
    client.force_login(make_user("hostop", role="Operator", host=hosts["unix-1"]))  # one host: not console-wide
    assert client.get("/registries/").status_code == 403
    denied = AuditEntry.objects.filter(outcome="denied").values_list("actor_name", "action")
    assert {("op", "registry.create"), ("op", "registry.delete"), ("viewer", "registry.view"),
            ("viewer", "registry.use"), ("hostop", "registry.view")} <= set(denied)  # fmt: skip


def test_mirrors_page(admin_client, hosts):
    text = admin_client.get("/hosts/unix-2/mirrors/").content.decode()
    assert "http://127.0.0.1:1/" in text and "registry.wharf.test:5000" in text
    text = admin_client.get("/hosts/unix-2/mirrors/", {"mirrors": "https://mirror.example.com\n"}).content.decode()
    assert "&quot;registry-mirrors&quot;: [\n    &quot;https://mirror.example.com&quot;" in text
    assert "systemctl reload docker" in text
    text = admin_client.get("/hosts/unix-2/mirrors/", {"mirrors": "mirror.example.com"}).content.decode()
    assert "A mirror is an http:// or https:// URL" in text
