"""The merged log view of several containers (console/streams: merged_sources and the
page): picked containers and all carrying a label across hosts, only those the user may
read; the browser shows each line marked with its container and host."""

import re
import uuid

from playwright.sync_api import expect

from console.audit.models import AuditEntry
from tests.conftest import client_of, login


def sources_of(html):
    return re.findall(r'data-socket="/ws/hosts/([^/]+)/containers/([0-9a-f]{64})/logs/"', html)


def test_a_label_gathers_containers_across_hosts_within_the_users_scope(hosts, make_user, containers):
    app = f"svc-{uuid.uuid4().hex[:6]}"
    web1 = containers("unix-1", labels={"app": app, "team": "a"})
    web2 = containers("tls-1", labels={"app": app, "team": "b"})
    containers("unix-2", labels={"app": "other"})
    admin = make_user(f"adm-{uuid.uuid4().hex[:6]}", superuser=True)
    html = client_of(admin).get("/logs/", {"label": f"app={app}"}).content.decode()
    assert sorted(sources_of(html)) == sorted([("unix-1", web1.id), ("tls-1", web2.id)])
    assert f"{web1.name} @ unix-1" in html and f"{web2.name} @ tls-1" in html

    scoped = make_user(f"dev-{uuid.uuid4().hex[:6]}", role="Developer", host=hosts["tls-1"], label="team=b")
    html = client_of(scoped).get("/logs/", {"label": f"app={app}"}).content.decode()
    assert sources_of(html) == [("tls-1", web2.id)]
    assert web1.name not in html


def test_a_pick_out_of_scope_reads_like_a_missing_one_and_is_recorded(hosts, make_user, containers):
    mine = containers("unix-1", labels={"team": "a"})
    theirs = containers("unix-1", labels={"team": "b"})
    user = make_user(f"dev-{uuid.uuid4().hex[:6]}", role="Developer", host=hosts["unix-1"], label="team=a")
    client = client_of(user)
    hidden = client.get("/logs/", {"c": [f"unix-1/{mine.id}", f"unix-1/{theirs.id}"]}).content.decode()
    missing = client.get("/logs/", {"c": [f"unix-1/{mine.id}", "unix-1/" + "0" * 64]}).content.decode()
    assert sources_of(hidden) == sources_of(missing) == [("unix-1", mine.id)]
    assert f"There is no container {theirs.id} on host unix-1." in hidden
    assert AuditEntry.objects.filter(actor_name=user.username, action="container.logs", outcome="denied",
                                     target_id=theirs.id).exists()  # fmt: skip


def test_a_user_without_logs_gets_no_source_and_bad_input_is_named(hosts, make_user, containers):
    c = containers("unix-1")
    nobody = make_user(f"none-{uuid.uuid4().hex[:6]}")
    html = client_of(nobody).get("/logs/", {"c": f"unix-1/{c.id}", "label": "app"}).content.decode()
    assert sources_of(html) == []
    admin = make_user(f"adm-{uuid.uuid4().hex[:6]}", superuser=True)
    response = client_of(admin).get("/logs/", {"label": "=x", "tail": "lots"})
    assert response.status_code == 200
    assert "Tail is a number of lines" in response.content.decode()


def test_the_merged_view_marks_each_line_with_its_container_and_host(page, hosts, admin_user, containers):
    app = f"svc-{uuid.uuid4().hex[:6]}"
    loop = "i=0; while true; do i=$((i+1)); echo \"$HOSTNAME line $i\"; sleep 0.2; done"
    a = containers("unix-1", cmd=["sh", "-c", loop], labels={"app": app})
    b = containers("tls-1", cmd=["sh", "-c", loop], labels={"app": app})
    login(page, "admin")
    page.goto("/containers/")
    page.locator(f"input[name=c][value='unix-1/{a.id}']").check()
    page.locator(f"input[name=c][value='tls-1/{b.id}']").check()
    page.get_by_role("button", name="Follow logs of selected").click()
    expect(page).to_have_url(re.compile(r"/logs/\?c="))
    expect(page.locator("#log-status")).to_have_text("Following 2 of 2 containers.")
    log = page.get_by_role("log", name="Log lines of the containers followed")
    expect(log.locator(".line", has_text=f"{a.name} @ unix-1").nth(3)).to_be_attached()
    expect(log.locator(".line", has_text=f"{b.name} @ tls-1").nth(3)).to_be_attached()
    line = log.locator(".line", has_text=f"{a.name} @ unix-1").first
    expect(line.locator(".msg")).to_contain_text(f"{a.id[:12]} line")

    page.get_by_label("Show only lines containing").fill(b.id[:12])
    visible = log.locator(".line:not(.hidden)")
    expect(visible.first).to_contain_text(f"{b.name} @ tls-1")
    assert all(b.name in text for text in visible.all_inner_texts())

    a.stop(timeout=0)
    source = page.locator(".log-sources li", has_text=f"{a.name} @ unix-1")
    expect(source.get_by_role("button", name="Follow again")).to_be_visible(timeout=20000)
    expect(page.locator("#log-status")).to_have_text("Following 1 of 2 containers.")
    a.start()
    source.get_by_role("button", name="Follow again").click()
    expect(page.locator("#log-status")).to_have_text("Following 2 of 2 containers.")
