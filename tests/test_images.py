"""The image list (`docker images`), per host and across hosts, as each role sees it."""

from console.audit.models import AuditEntry
from tests.harness import TEST_IMAGE


def test_images_across_hosts(admin_client, hosts):
    html = admin_client.get("/images/").content.decode()
    repository, tag = TEST_IMAGE.split(":")
    for name in hosts:
        assert f'data-host="{name}"' in html
    assert repository in html and tag in html


def test_full_ids_and_intermediate_images(admin_client, hosts, docker_env):
    image_id = docker_env.client("unix-1").images.get(TEST_IMAGE).id
    html = admin_client.get("/hosts/unix-1/images/").content.decode()
    assert image_id.removeprefix("sha256:")[:12] in html and f">{image_id}<" not in html
    html = admin_client.get("/hosts/unix-1/images/?no_trunc=1&all=1").content.decode()
    assert f">{image_id}<" in html


def test_reference_filter(admin_client, hosts):
    html = admin_client.get("/images/?reference=no-such-thing").content.decode()
    assert "No images." in html


def test_dead_host_is_a_notice(admin_client, hosts, docker_env):
    from console.hosts.models import Host

    Host.objects.create(name="gone", url=docker_env.closed_port_url)
    html = admin_client.get("/images/").content.decode()
    assert "gone is unreachable: connection refused" in html
    assert 'data-host="unix-1"' in html


def test_label_scoped_users_read_the_hosts_images_other_host_users_none(client, make_user, hosts):
    """Images belong to the host, not to a label: a label-scoped grant reads them all."""
    client.force_login(make_user("dev", role="Developer", host=hosts["unix-1"], label="team=payments"))
    assert TEST_IMAGE.split(":")[0] in client.get("/hosts/unix-1/images/").content.decode()
    assert not AuditEntry.objects.filter(action="image.view", outcome="denied").exists()
    client.force_login(make_user("viewer", role="Viewer", host=hosts["unix-2"]))
    html = client.get("/images/").content.decode()
    assert 'data-host="unix-2"' in html and 'data-host="unix-1"' not in html
    assert client.get("/hosts/unix-1/images/").status_code == 404


def test_a_label_scoped_user_counts_only_the_containers_they_may_see(make_user, hosts, containers):
    import uuid

    from console.images.services import image_list
    from tests.conftest import actor_for

    team = f"t{uuid.uuid4().hex[:6]}"
    containers("unix-1", labels={"team": team})
    containers("unix-1", labels={"team": "someone-else"}, start=False)
    containers("unix-1", labels={"team": "someone-else"})
    scoped = make_user("scoped", role="Developer", host=hosts["unix-1"], label=f"team={team}")
    admin = make_user("root", superuser=True)

    def count(user):
        rows = image_list(actor=actor_for(user), hosts=[hosts["unix-1"]], containers=True).rows
        return next(r.containers for r in rows if f"{r.repository}:{r.tag}" == TEST_IMAGE)

    assert count(scoped) == 1
    assert count(admin) >= 3
