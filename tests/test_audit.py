"""The audit trail's user-facing side: list, detail, exports, retention and the chain."""

import csv
import gzip
import io
import json
import re
import time
import urllib.request
import warnings
from datetime import timedelta
from unittest import mock

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from django.test import AsyncClient
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from console import streaming
from console.actions import Actor, Target, perform, record_event
from console.audit import chain, export
from console.audit.models import AuditEntry
from console.audit.selectors import AuditFilters
from console.errors import WharfError
from tests.conftest import PASSWORD, run_async

pytestmark = pytest.mark.django_db


def actor(name="ops", **kwargs):
    return Actor(name=name, system=True, **kwargs)


def act(who=None, code="host.test", target=None, params=None, fail=None, **kwargs):
    """One audited action; returns its entry."""

    def run():
        if fail:
            raise WharfError(fail)

    try:
        perform(who or actor(), code, target=target or Target(), params=params or {}, run=run, **kwargs)
    except WharfError:
        pass
    return AuditEntry.objects.order_by("-id").first()


def at(moment):
    """Entries appended inside this block carry `moment` as their time."""
    return mock.patch("console.audit.chain.timezone.now", return_value=moment)


def listed(response):
    return [int(i) for i in re.findall(r'data-entry="(\d+)"', response.content.decode())]


def ids(queryset):
    return list(queryset.order_by("-id").values_list("id", flat=True))


# --- access -------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["Developer", "Viewer"])
@pytest.mark.parametrize(
    "url, code", [("/audit/", "audit.view"), ("/audit/1/", "audit.view"), ("/audit/export.csv", "audit.export")]
)
def test_audit_pages_are_denied_without_the_permission_and_the_denial_is_recorded(
    client, make_user, role, url, code
):
    act()
    client.force_login(make_user("dev", role=role))
    response = client.get(url)
    assert response.status_code == 403
    assert "not allowed to" in response.content.decode()
    denied = AuditEntry.objects.filter(actor_name="dev", outcome="denied")
    assert [e.action for e in denied] == [code]
    assert denied[0].error.startswith("You are not allowed to")
    assert not AuditEntry.objects.filter(action="audit.export", outcome="started").exists()


def test_admin_sees_the_trail(admin_client):
    entry = act(actor("alice"), target=Target("t1", "web-1"), fail="disk full")
    response = admin_client.get("/audit/")
    assert response.status_code == 200
    html = response.content.decode()
    assert listed(response) == ids(AuditEntry.objects.all())  # with the admin's own login
    assert listed(response)[0] == entry.id
    assert 'class="outcome-failed"' in html and "disk full" in html and "web-1" in html
    assert f'href="/audit/{entry.id}/"' in html


def test_reading_the_trail_is_audited_with_audit_reads(admin_client, settings):
    settings.AUDIT_READS = True
    admin_client.get("/audit/?user=nobody")
    entry = AuditEntry.objects.get(action="audit.view")
    assert (entry.actor_name, entry.outcome, entry.params) == ("admin", "succeeded", {"filters": {"user": "nobody"}})


# --- list: filters and pages ----------------------------------------------------------


@pytest.fixture
def trail(settings, db):
    """A small, varied trail; returns the entries by a short name."""
    from console.hosts.models import Host

    h1 = Host.objects.create(name="h1", url="unix:///nowhere.sock")
    day = (timezone.now() - timedelta(days=3)).replace(hour=0, minute=0, second=0, microsecond=0)
    settings.AUDIT_READS = True
    e = {}
    with at(day):
        e["alice"] = act(actor("alice", ip="10.0.0.1"), target=Target("abc123", "web-frontend"))
    with at(day + timedelta(hours=1)):
        e["bob_h1"] = act(actor("bob", request_id="req-42"), code="host.view", host=h1, target=Target(h1.pk, "h1"))
    with at(day + timedelta(hours=2)):
        e["failed"] = act(actor("alice", request_id="req-42"), target=Target("db", "postgres"), fail="disk full")
    with at(day + timedelta(days=1)):
        record_event(Actor(name="mallory", ip="10.9.9.9"), "auth.login_failed", error="wrong username or password")
        e["mallory"] = AuditEntry.objects.order_by("-id").first()
    settings.AUDIT_READS = False
    e["day"] = day
    return e


@pytest.mark.parametrize(
    "query, expected",
    [
        ("user=alice", ["failed", "alice"]),
        ("host=h1", ["bob_h1"]),
        ("action=auth.login_failed", ["mallory"]),
        ("outcome=failed", ["mallory", "failed"]),
        ("outcome=succeeded&user=alice", ["alice"]),
        ("target=frontend", ["alice"]),
        ("target=DB", ["failed"]),
        ("target=abc1", ["alice"]),  # the target id
        ("target=session&user=mallory", ["mallory"]),  # the target type
        ("q=disk", ["failed"]),
        ("q=wrong+username", ["mallory"]),
        ("q=req-42", ["failed", "bob_h1"]),
        ("q=abc12", ["alice"]),
        ("q=login_failed", ["mallory"]),
        ("request=req-42", ["failed", "bob_h1"]),
        ("from={d0}T00:30&to={d0}T01:30", ["bob_h1"]),
        ("from={d1}T00:00&to={d1}T00:01", ["mallory"]),
        ("to={d0}T00:00", ["alice"]),
        ("to={d1}T23:59", ["mallory", "failed", "bob_h1", "alice"]),
    ],
)
def test_list_filters(admin_client, trail, query, expected):
    day = trail["day"]
    query = query.format(d0=day.strftime("%Y-%m-%d"), d1=(day + timedelta(days=1)).strftime("%Y-%m-%d"))
    response = admin_client.get(f"/audit/?{query}")
    assert response.status_code == 200
    assert listed(response) == [trail[name].id for name in expected]
    assert listed(admin_client.get("/audit/")) == ids(AuditEntry.objects.all())  # the admin's login too


def test_bad_filter_input_is_shown_next_to_the_field(admin_client, trail):
    response = admin_client.get("/audit/?from=yesterday&action=no.such")
    html = response.content.decode()
    assert response.status_code == 200 and listed(response) == []
    assert "Enter a valid date/time." in html and "Select a valid choice." in html


def test_filter_form_offers_every_declared_action(admin_client):
    from console.actions import REGISTRY

    html = admin_client.get("/audit/").content.decode()
    for code in REGISTRY:
        assert f'<option value="{code}"' in html


def test_keyset_pages_over_many_entries_without_counting(admin_client):
    made = [act(actor("pager"), target=Target(str(n))).id for n in range(120)]
    act(actor("someone-else"))
    newest_first = made[::-1]

    with CaptureQueriesContext(connection) as queries:
        first = admin_client.get("/audit/?user=pager")
    assert not any("COUNT(" in q["sql"].upper() for q in queries.captured_queries)
    assert listed(first) == newest_first[:50]
    html = first.content.decode()
    assert f'href="?before={newest_first[49]}&amp;user=pager"' in html
    assert 'rel="prev"' not in html and 'rel="first"' not in html

    second = admin_client.get(f"/audit/?before={newest_first[49]}&user=pager")
    assert listed(second) == newest_first[50:100]
    third = admin_client.get(f"/audit/?before={newest_first[99]}&user=pager")
    assert listed(third) == newest_first[100:]
    assert 'rel="next"' not in third.content.decode() and 'rel="first"' in third.content.decode()

    assert f'href="?after={newest_first[100]}&amp;user=pager"' in third.content.decode()
    back = admin_client.get(f"/audit/?after={newest_first[100]}&user=pager")
    assert listed(back) == newest_first[50:100]
    assert f'href="?after={newest_first[50]}&amp;user=pager"' in back.content.decode()
    assert f'href="?before={newest_first[99]}&amp;user=pager"' in back.content.decode()
    newest = admin_client.get(f"/audit/?after={newest_first[50]}&user=pager")  # nothing newer than a page
    assert listed(newest) == newest_first[:50] and 'rel="prev"' not in newest.content.decode()
    assert listed(admin_client.get(f"/audit/?after={newest_first[10]}&user=pager")) == newest_first[:50]
    assert admin_client.get("/audit/?before=junk&user=pager").status_code == 400


def test_htmx_gets_the_table_alone(admin_client, trail):
    response = admin_client.get("/audit/?user=alice&host=&q=", headers={"HX-Request": "true"})
    html = response.content.decode()
    assert "<html" not in html and "<table" in html
    assert listed(response) == [trail["failed"].id, trail["alice"].id]
    assert response["HX-Push-Url"] == "/audit/?user=alice"
    assert "HX-Request" in response["Vary"]
    assert 'href="/audit/export.csv?user=alice"' in html  # the exports follow the filters
    full = admin_client.get("/audit/?user=alice")
    assert "<html" in full.content.decode() and "HX-Request" in full["Vary"]


def test_detail_shows_everything_escaped(admin_client):
    entry = act(
        actor("eve", ip="10.1.2.3", user_agent="curl/8", request_id="r-77"),
        target=Target("x1", "<script>alert(1)</script>"),
        params={"command": ["sh", "-c", "<b>"], "nested": {"k": 1}},
    )
    response = admin_client.get(f"/audit/{entry.id}/")
    html = response.content.decode()
    assert response.status_code == 200
    assert "<script>alert(1)" not in html and "&lt;script&gt;alert(1)" in html
    assert "&quot;nested&quot;: {\n    &quot;k&quot;: 1\n  }" in html  # pretty-printed
    assert 'href="/audit/?request=r-77"' in html
    assert entry.hash in html and entry.prev_hash in html and "curl/8" in html and "10.1.2.3" in html
    assert admin_client.get("/audit/999999/").status_code == 404


# --- exports ------------------------------------------------------------------------------


def export_entry():
    return AuditEntry.objects.filter(action="audit.export").latest("id")


def test_csv_export_is_streamed_filtered_and_audited_with_its_size(admin_client, trail):
    response = admin_client.get("/audit/export.csv?user=alice")
    assert response.streaming and response["Content-Type"].startswith("text/csv")
    assert "attachment;" in response["Content-Disposition"]
    body = b"".join(response.streaming_content)
    rows = list(csv.DictReader(io.StringIO(body.decode())))
    assert [int(r["id"]) for r in rows] == [trail["alice"].id, trail["failed"].id]  # oldest first
    first = rows[0]
    assert (first["actor_name"], first["target_name"], first["source_ip"]) == ("alice", "web-frontend", "10.0.0.1")
    assert first["hash"] == trail["alice"].hash and json.loads(first["params"]) == {}
    assert rows[1]["error"] == "disk full" and rows[1]["outcome"] == "failed"

    entry = export_entry()
    assert (entry.actor_name, entry.outcome, entry.size_bytes) == ("admin", "succeeded", len(body))
    assert entry.params == {"filters": {"user": "alice"}, "format": "csv"}
    assert chain.verify() is None


def test_json_export_is_one_array_without_its_own_entry(admin_client, trail):
    response = admin_client.get("/audit/export.json")
    assert response.streaming and response["Content-Type"] == "application/json"
    body = b"".join(response.streaming_content)
    records = json.loads(body)
    assert [r["id"] for r in records] == ids(AuditEntry.objects.exclude(action="audit.export"))[::-1]
    assert {trail[k].id for k in ("alice", "bob_h1", "failed", "mallory")} <= {r["id"] for r in records}
    by_id = {r["id"]: r for r in records}
    bob = by_id[trail["bob_h1"].id]
    assert bob["host_name"] == "h1" and bob["request_id"] == "req-42" and bob["target_type"] == "host"
    assert bob["time"] == trail["bob_h1"].time.isoformat(timespec="microseconds")
    assert export_entry().size_bytes == len(body)


def test_empty_export_is_valid(admin_client):
    assert json.loads(b"".join(admin_client.get("/audit/export.json?user=nobody").streaming_content)) == []


def test_export_reads_in_batches(admin_client, monkeypatch):
    monkeypatch.setattr(export, "BATCH", 7)
    made = [act(actor("many")).id for _ in range(30)]
    with CaptureQueriesContext(connection) as queries:
        body = b"".join(admin_client.get("/audit/export.json?user=many").streaming_content)
    assert [r["id"] for r in json.loads(body)] == made
    reads = [q["sql"] for q in queries.captured_queries if '"hash"' in q["sql"] and "LIMIT 7" in q["sql"]]
    assert len(reads) == 5  # 7+7+7+7+2


def test_csv_cells_that_look_like_formulas_are_neutralised(admin_client):
    record_event(Actor(name='=HYPERLINK("http://x","y")'), "auth.login_failed", error="wrong")
    body = b"".join(admin_client.get("/audit/export.csv?action=auth.login_failed").streaming_content).decode()
    row = next(csv.DictReader(io.StringIO(body)))
    assert row["actor_name"] == "'=HYPERLINK(\"http://x\",\"y\")"


@pytest.fixture
def superuser_client(client, make_user):
    """For transactional tests: a flush before them removed the built-in roles."""
    client.force_login(make_user("admin", superuser=True))
    return client


@pytest.mark.django_db(transaction=True)  # closing a response closes the database connection
def test_export_closed_early_is_recorded_as_cancelled(superuser_client):
    act()
    response = superuser_client.get("/audit/export.csv")
    next(response.streaming_content)  # the header only
    assert export_entry().outcome == "started"
    response.close()  # what a WSGI server does when the client goes away
    entry = export_entry()
    assert (entry.outcome, entry.error) == ("failed", "cancelled")
    assert entry.size_bytes == len(",".join(export.FIELDS)) + 2
    assert chain.verify() is None


def test_bad_export_filter_fails_the_export(admin_client):
    response = admin_client.get("/audit/export.json?from=someday")
    assert response.status_code == 400 and "Invalid filter" in response.content.decode()
    entry = export_entry()
    assert entry.outcome == "failed" and "from" in entry.error


@pytest.mark.django_db(transaction=True)  # the stream is read from worker threads
def test_export_under_asgi_is_an_async_stream(superuser_client):
    act()
    client = AsyncClient()
    client.force_login(get_user_model().objects.get(username="admin"))

    async def fetch():
        response = await client.get("/audit/export.json")
        assert response.streaming and response.is_async
        return b"".join([chunk async for chunk in response.streaming_content])

    body = run_async(fetch())
    assert len(json.loads(body)) == AuditEntry.objects.count() - 1
    entry = export_entry()
    assert (entry.outcome, entry.size_bytes) == ("succeeded", len(body))


@pytest.mark.django_db(transaction=True)  # the stream is read from worker threads
def test_async_export_closed_early_is_recorded_as_cancelled(superuser_client):
    act()
    user = get_user_model().objects.get(username="admin")
    stream = export.AuditedExport(Actor(user=user, name="admin"), "json", AuditFilters({}))

    async def read_one_then_close():
        chunks = streaming._in_thread(stream)
        first = await chunks.__anext__()
        await chunks.aclose()
        return first

    assert run_async(read_one_then_close()) == b"["
    entry = export_entry()
    assert (entry.outcome, entry.error, entry.size_bytes) == ("failed", "cancelled", 1)


# --- the model refuses changes --------------------------------------------------------------


def test_entries_cannot_be_changed_or_deleted_through_the_app():
    entry = act()
    entry.actor_name = "mallory"
    refused = [
        lambda: AuditEntry.objects.filter(pk=entry.pk).update(actor_name="x"),
        lambda: AuditEntry.objects.filter(pk=entry.pk).delete(),
        lambda: AuditEntry.objects.all().delete(),
        lambda: entry.delete(),
        lambda: entry.save(),
        lambda: AuditEntry.objects.update_or_create(pk=entry.pk, defaults={"actor_name": "x"}),
        lambda: AuditEntry.objects.bulk_update([entry], ["actor_name"]),
    ]
    for attempt in refused:
        with pytest.raises(WharfError), transaction.atomic():
            attempt()
    assert AuditEntry.objects.get(pk=entry.pk).actor_name == "ops"
    assert chain.verify() is None


# --- the chain ----------------------------------------------------------------------------


def raw(sql, *params):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def verify_command():
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("audit", "verify", stdout=out, stderr=err)
    except SystemExit as exc:
        return exc.code, err.getvalue().strip()
    return 0, out.getvalue().strip()


def test_verify_names_an_altered_entry():
    entries = [act(target=Target(str(n))) for n in range(5)]
    assert verify_command()[1].startswith("audit chain OK: 5 entries;")
    raw("UPDATE audit_auditentry SET actor_name='mallory' WHERE id=%s", entries[2].id)
    entry, reason = chain.verify()
    assert entry.id == entries[2].id and reason == "its content was altered"
    code, message = verify_command()
    assert code == 1
    assert message == (
        f"audit chain broken at entry #{entries[2].id} ({entries[2].time.isoformat()}, host.test): "
        "its content was altered"
    )


def test_verify_names_the_entry_after_a_deleted_one():
    entries = [act(target=Target(str(n))) for n in range(5)]
    raw("DELETE FROM audit_auditentry WHERE id=%s", entries[2].id)
    entry, reason = chain.verify()
    assert entry.id == entries[3].id and "does not follow the previous entry" in reason


def test_verify_notices_the_oldest_entries_deleted_without_purge():
    entries = [act(target=Target(str(n))) for n in range(3)]
    raw("DELETE FROM audit_auditentry WHERE id=%s", entries[0].id)
    entry, reason = chain.verify()
    assert entry.id == entries[1].id and "removed without `audit purge`" in reason


def test_verify_notices_an_altered_outcome(admin_client, trail):
    b"".join(admin_client.get("/audit/export.csv").streaming_content)
    entry = export_entry()
    raw("UPDATE audit_auditentry SET size_bytes=1 WHERE id=%s", entry.id)
    assert chain.verify() == (entry, "its outcome was altered")


def test_ipv6_addresses_are_hashed_as_stored():
    entry = act(actor(ip="0:0:0:0:0:0:0:1"))
    act(actor(ip="FE80::1%eth0"))
    act(actor(ip="not an address"))
    assert list(AuditEntry.objects.order_by("id").values_list("source_ip", flat=True)) == ["::1", "fe80::1", None]
    assert entry.source_ip == "::1"
    assert chain.verify() is None


# --- retention ----------------------------------------------------------------------------


def old_and_new(old=4, new=3, days=40):
    with at(timezone.now() - timedelta(days=days)):
        olds = [act(actor("old"), target=Target(str(n))) for n in range(old)]
    news = [act(actor("new"), target=Target(str(n))) for n in range(new)]
    return olds, news


def purge(tmp_path, *args):
    out = io.StringIO()
    call_command("audit", "purge", "--archive-dir", str(tmp_path), *args, stdout=out)
    return out.getvalue().strip()


def read_archive(path):
    with gzip.open(path, "rt") as f:
        return [json.loads(line) for line in f]


def test_purge_archives_then_deletes_and_the_chain_still_verifies(tmp_path):
    olds, news = old_and_new()
    message = purge(tmp_path, "--days", "30")
    assert message.startswith("purged 4 entries older than ") and f"(up to #{olds[-1].id})" in message

    (archive,) = tmp_path.glob("*.jsonl.gz")
    records = read_archive(archive)
    assert [r["id"] for r in records] == [e.id for e in olds]
    assert records[-1]["hash"] == olds[-1].hash and records[0]["actor_name"] == "old"
    assert not list(tmp_path.glob("*.partial"))

    assert ids(AuditEntry.objects.exclude(action="audit.purge")) == [e.id for e in news][::-1]
    record = AuditEntry.objects.get(action="audit.purge")
    assert record.actor_name == "system (manage.py audit purge)" and record.outcome == "succeeded"
    assert record.params["purged_through_id"] == olds[-1].id
    assert record.params["last_purged_hash"] == olds[-1].hash
    assert record.params["archive"] == str(archive) and record.params["entries"] == 4
    assert verify_command()[1].startswith("audit chain OK: 4 entries;")


def test_purge_is_not_a_licence_to_delete_more(tmp_path):
    olds, news = old_and_new()
    purge(tmp_path, "--days", "30")
    raw("DELETE FROM audit_auditentry WHERE id=%s", news[0].id)  # behind the purge's back
    entry, reason = chain.verify()
    assert entry.id == news[1].id and "removed without `audit purge`" in reason


def test_purging_twice_and_everything_old_keeps_the_chain(tmp_path):
    old_and_new(old=3, new=2, days=100)
    purge(tmp_path, "--days", "50")
    first_purge = AuditEntry.objects.get(action="audit.purge")
    message = purge(tmp_path, "--days", "0")  # all but the newest entry: the first purge's
    assert message.startswith("purged 2 entries")
    remaining = list(AuditEntry.objects.order_by("id"))
    assert [e.action for e in remaining] == ["audit.purge", "audit.purge"]
    assert remaining[0].id == first_purge.id
    assert chain.verify() is None
    assert sorted(len(read_archive(p)) for p in tmp_path.glob("*.jsonl.gz")) == [2, 3]


def test_purge_deletes_a_few_ids_at_a_time():
    entries = [act(target=Target(str(n))) for n in range(7)]
    with CaptureQueriesContext(connection) as queries:
        assert chain.purge(entries[4].id, step=2) == 5
    assert len([q for q in queries.captured_queries if q["sql"].startswith("DELETE")]) == 3
    assert ids(AuditEntry.objects.all()) == [entries[6].id, entries[5].id]
    assert chain.purge(entries[4].id) == 0


def test_purge_dry_run_and_nothing_to_purge(tmp_path, settings):
    olds, news = old_and_new()
    assert purge(tmp_path, "--days", "30", "--dry-run").startswith("would purge 4 entries older than")
    assert AuditEntry.objects.count() == 7 and not list(tmp_path.iterdir())
    settings.AUDIT_RETENTION_DAYS = 60  # the default
    assert purge(tmp_path).startswith("nothing to purge: no entries older than")
    assert AuditEntry.objects.count() == 7
    with pytest.raises(CommandError, match="zero days or more"):
        purge(tmp_path, "--days", "-1")


def test_export_command(tmp_path):
    entries = [act(target=Target(str(n))) for n in range(3)]
    out = tmp_path / "trail.json"
    call_command("audit", "export", "--format", "json", "--output", str(out), stderr=io.StringIO())
    assert [r["id"] for r in json.loads(out.read_text())] == [e.id for e in entries]
    entry = export_entry()
    assert entry.actor_name == "system (manage.py audit export)" and entry.outcome == "succeeded"
    assert entry.size_bytes == out.stat().st_size

    stdout = io.StringIO()
    call_command("audit", "export", "--format", "csv", stdout=stdout)
    rows = list(csv.DictReader(io.StringIO(stdout.getvalue())))
    assert [int(r["id"]) for r in rows] == [e.id for e in entries] + [entry.id]


# --- sessions -------------------------------------------------------------------------------


def test_login_logout_and_failed_login_are_recorded(client, make_user):
    make_user("alice")
    response = client.post("/accounts/login/", {"username": "alice", "password": "wrong"}, REMOTE_ADDR="10.0.0.9")
    assert response.status_code == 200
    assert client.post("/accounts/login/", {"username": "alice", "password": PASSWORD}).status_code == 302
    assert client.post("/accounts/logout/").status_code == 302
    entries = list(AuditEntry.objects.order_by("id"))
    assert [(e.action, e.actor_name, e.outcome) for e in entries] == [
        ("auth.login_failed", "alice", "failed"),
        ("auth.login", "alice", "succeeded"),
        ("auth.logout", "alice", "succeeded"),
    ]
    assert entries[0].source_ip == "10.0.0.9" and entries[0].params == {}
    assert entries[1].request_id and entries[1].actor_id is not None
    assert chain.verify() is None


# --- through daphne ---------------------------------------------------------------------


def bulk_entries(count, **fields):
    """Many valid entries at once (as the benchmark makes them)."""
    prev = AuditEntry.objects.order_by("-id").values_list("hash", flat=True).first() or chain.GENESIS
    now, rows = timezone.now(), []
    for n in range(count):
        entry = AuditEntry(
            time=now, actor_name="bulk", action="host.test", target_type="host", target_id=str(n),
            target_name=f"target-{n}", outcome="succeeded", params={"n": n}, **fields,
        )  # fmt: skip
        chain.seal(entry, prev)
        prev = entry.hash
        rows.append(entry)
    AuditEntry.objects.bulk_create(rows, batch_size=2000)


def live_get(live_server_url, client, path):
    request = urllib.request.Request(
        live_server_url + path, headers={"Cookie": f"sessionid={client.cookies['sessionid'].value}"}
    )
    return urllib.request.urlopen(request, timeout=30)


@pytest.mark.heavy(5)
@pytest.mark.django_db(transaction=True)
def test_export_through_daphne_streams_and_notices_a_client_going_away(live_server_url, superuser_client):
    bulk_entries(30000)
    assert chain.verify() is None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with live_get(live_server_url, superuser_client, "/audit/export.csv?user=bulk") as response:
            assert response.headers["Content-Type"].startswith("text/csv")
            body = response.read()
    assert not [w for w in caught if "consume synchronous iterators" in str(w.message)]
    assert body.count(b"\r\n") == 30001
    entry = export_entry()
    assert (entry.outcome, entry.size_bytes) == ("succeeded", len(body))

    with live_get(live_server_url, superuser_client, "/audit/export.json") as response:
        assert response.read(100).startswith(b"[\n{")
    for _ in range(100):  # the server notices the disconnect, cancels, and records it
        entry = export_entry()
        if entry.outcome != "started":
            break
        time.sleep(0.1)
    assert (entry.outcome, entry.error) == ("failed", "cancelled")
    assert 0 < entry.size_bytes < len(body)
