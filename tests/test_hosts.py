"""Host pages, the host actions through the action layer, and the host commands."""

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.utils.html import escape

from console.audit.models import AuditEntry
from console.hosts.models import Host


def test_list_shows_live_status_and_a_dead_host(admin_client, hosts, docker_env):
    Host.objects.create(name="gone", url=docker_env.closed_port_url)
    html = admin_client.get("/hosts/").content.decode()
    for name in hosts:
        assert f'data-host="{name}"' in html
    assert html.count('class="status-up"') == 3
    assert "gone is unreachable: connection refused" in html


def test_detail_groups_version_and_info(admin_client, hosts, docker_env):
    html = admin_client.get("/hosts/tls-1/").content.decode()
    for heading in ("Engine", "OS and kernel", "Drivers and cgroup", "Registry mirrors", "Warnings"):
        assert heading in html
    info = docker_env.client("tls-1").info()
    for label, value in (("Storage driver", info["Driver"]), ("Logging driver", info["LoggingDriver"]),
                         ("Kernel", info["KernelVersion"]), ("Operating system", info["OperatingSystem"])):  # fmt: skip
        assert f"<dt>{label}</dt><dd>{escape(value)}</dd>" in html, label


def test_developer_sees_only_the_granted_host(client, make_user, hosts):
    dev = make_user("dev", role="Developer", host=hosts["unix-2"])
    client.force_login(dev)
    html = client.get("/hosts/").content.decode()
    assert 'data-host="unix-2"' in html and 'data-host="unix-1"' not in html
    assert client.get("/hosts/unix-1/").status_code == 404
    assert AuditEntry.objects.filter(action="host.view", outcome="denied", host_name="unix-1").count() == 1
    assert client.get("/hosts/unix-2/").status_code == 200


def test_every_page_needs_a_login(client, hosts):
    for url in ("/hosts/", "/hosts/unix-1/", "/hosts/add/", "/audit/", "/containers/"):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def _tls_uploads(spec):
    return {
        "tls_ca": SimpleUploadedFile("ca.pem", spec.tls_ca.encode()),
        "tls_cert": SimpleUploadedFile("cert.pem", spec.tls_cert.encode()),
        "tls_key": SimpleUploadedFile("key.pem", spec.tls_key.encode()),
    }


def test_admin_adds_a_tls_host_and_it_is_audited(admin_client, docker_env):
    spec = docker_env.daemon("tls-1")
    data = {"name": "prod-1", "url": spec.url, "description": "TLS", "enabled": "on", **_tls_uploads(spec)}
    response = admin_client.post("/hosts/add/", data)
    assert response.status_code == 302, response.content.decode()
    host = Host.objects.get(name="prod-1")
    assert host.tls_key == spec.tls_key
    entry = AuditEntry.objects.get(action="host.create")
    assert entry.outcome == "succeeded" and entry.params["tls_key"] == "[redacted]"
    assert spec.tls_key.splitlines()[1] not in str(entry.params)
    html = admin_client.get("/hosts/prod-1/edit/").content.decode()
    assert spec.tls_key.splitlines()[1] not in html and "Stored (encrypted)" in html


def test_test_connection_shows_version_or_error(admin_client, hosts, docker_env):
    html = admin_client.post("/hosts/tls-1/test/").content.decode()
    assert "Connected: Docker Engine" in html
    Host.objects.create(name="gone", url=docker_env.closed_port_url)
    html = admin_client.post("/hosts/gone/test/").content.decode()
    assert "gone is unreachable: connection refused" in html
    assert AuditEntry.objects.filter(action="host.test", outcome="failed").count() == 1


@pytest.mark.parametrize(
    "data, field, message",
    [
        ({"name": "x1", "url": "http://10.0.0.1"}, "url", "must start with unix://, tcp:// or ssh://"),
        ({"name": "Bad Name", "url": "unix:///x.sock"}, "name", "lower-case"),
        ({"name": "unix-1", "url": "unix:///x.sock"}, "name", "already exists"),
    ],
)
def test_bad_input_is_explained_and_nothing_saved(admin_client, hosts, data, field, message):
    before = Host.objects.count()
    response = admin_client.post("/hosts/add/", {**data, "enabled": "on"})
    assert response.status_code == 400 and message in response.content.decode()
    assert Host.objects.count() == before


def test_mismatched_tls_files_are_refused(admin_client, docker_env):
    spec = docker_env.daemon("tls-1")
    uploads = _tls_uploads(spec)
    uploads["tls_key"] = SimpleUploadedFile("key.pem", docker_env.daemon("tls-1").tls_key.encode()[:-200])
    response = admin_client.post("/hosts/add/", {"name": "prod-9", "url": spec.url, **uploads})
    assert "not an unencrypted PEM private key" in response.content.decode()
    uploads = _tls_uploads(spec)
    uploads["tls_cert"] = SimpleUploadedFile("cert.pem", spec.tls_ca.encode())
    response = admin_client.post("/hosts/add/", {"name": "prod-9", "url": spec.url, **uploads})
    assert "does not belong to the client certificate" in response.content.decode()
    assert not Host.objects.filter(name="prod-9").exists()


def test_non_admin_cannot_change_hosts(client, make_user, hosts, docker_env):
    op = make_user("op", role="Operator")
    client.force_login(op)
    assert client.get("/hosts/add/").status_code == 403
    response = client.post("/hosts/add/", {"name": "sneaky", "url": docker_env.daemon("unix-1").url})
    assert response.status_code == 403 and not Host.objects.filter(name="sneaky").exists()
    assert client.post("/hosts/unix-1/delete/").status_code == 403
    assert Host.objects.filter(name="unix-1").exists()
    denied = AuditEntry.objects.filter(outcome="denied").values_list("action", flat=True)
    assert sorted(denied) == ["host.create", "host.create", "host.delete"]  # the form page, the post


def test_admin_edits_and_removes_a_host(admin_client, hosts):
    response = admin_client.post("/hosts/unix-2/edit/", {"name": "unix-2", "url": hosts["unix-2"].url,
                                                         "description": "edited", "enabled": "on"})  # fmt: skip
    assert response.status_code == 302
    assert Host.objects.get(name="unix-2").description == "edited"
    assert admin_client.post("/hosts/unix-2/delete/").status_code == 302
    assert not Host.objects.filter(name="unix-2").exists()
    assert list(AuditEntry.objects.exclude(action="auth.login").order_by("id").values_list("action", "outcome")) == [
        ("host.update", "succeeded"), ("host.delete", "succeeded")
    ]  # fmt: skip


def test_addhost_is_idempotent_and_reads_tls_files(docker_env, db, tmp_path):
    spec = docker_env.daemon("tls-1")
    paths = {}
    for part in ("ca", "cert", "key"):
        paths[part] = tmp_path / f"{part}.pem"
        paths[part].write_text(getattr(spec, f"tls_{part}"))
    args = ["prod-1", spec.url, "--tls-ca", paths["ca"], "--tls-cert", paths["cert"], "--tls-key", paths["key"]]
    out = io.StringIO()
    call_command("addhost", *map(str, args), stdout=out)
    call_command("addhost", *map(str, args), "--description", "again", stdout=out)
    assert "Added host prod-1" in out.getvalue() and "Updated host prod-1" in out.getvalue()
    assert Host.objects.get(name="prod-1").description == "again"
    out = io.StringIO()
    call_command("hosts", stdout=out)
    assert "prod-1" in out.getvalue() and " up " in out.getvalue()


def test_addhost_errors(db, tmp_path):
    with pytest.raises(CommandError, match="must start with unix://"):
        call_command("addhost", "x", "http://127.0.0.1:1")
    with pytest.raises(CommandError, match="cannot read"):
        call_command("addhost", "x", "tcp://127.0.0.1:1", "--tls-ca", str(tmp_path / "missing.pem"))
    assert not Host.objects.exists()
    assert AuditEntry.objects.filter(action="host.create", outcome="failed").count() == 1


def test_rotatekeys_reencrypts_with_the_new_key(hosts, settings):
    from cryptography.fernet import Fernet
    from django.db import connection

    old = settings.FERNET_KEYS
    settings.FERNET_KEYS = [Fernet.generate_key().decode(), *old]
    call_command("rotatekeys", stdout=io.StringIO())
    settings.FERNET_KEYS = settings.FERNET_KEYS[:1]
    assert Host.objects.get(name="tls-1").tls_key.startswith("-----BEGIN")
    with connection.cursor() as cursor:
        cursor.execute("SELECT tls_key FROM hosts_host WHERE name='tls-1'")
        assert "BEGIN" not in cursor.fetchone()[0]


def test_setup_creates_the_admin_once_and_registers_docker_host(db, monkeypatch, docker_env):
    from django.contrib.auth import get_user_model

    from console.access import policy
    from console.actions import REGISTRY

    monkeypatch.setenv("DOCKER_HOST", docker_env.daemon("unix-1").url)
    out = io.StringIO()
    call_command("setup", stdout=out)
    password = out.getvalue().split("with password: ")[1].split()[0]
    admin = get_user_model().objects.get(username="admin")
    assert admin.check_password(password)
    assert Host.objects.get(name="local").url == docker_env.daemon("unix-1").url
    assert policy.permits(admin, REGISTRY["host.create"])
    out = io.StringIO()
    call_command("setup", stdout=out)
    assert out.getvalue() == "Docker hosts: local.\n"
    actions = set(AuditEntry.objects.values_list("action", flat=True))
    assert {"user.create", "grant.create", "host.create"} <= actions
    assert password not in str(list(AuditEntry.objects.values_list("params", flat=True)))
