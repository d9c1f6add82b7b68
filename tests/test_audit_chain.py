"""The audit chain against someone who can write to the database: keyed hashes, anchors
outside the database, the upgrade from the unkeyed chain, rotation and purge."""

import io
import json
import os
import socket
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.conf import settings as django_settings
from django.core.management import call_command
from django.core.management.color import no_style
from django.db import connection, transaction

from console.actions import Target, long_action
from console.audit import anchors, chain, keys
from console.audit.models import AuditEntry
from tests.test_audit import act, actor, old_and_new, purge, raw, read_archive, verify_command

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parent.parent
V1_TRAIL = Path(__file__).parent / "data" / "audit_trail_v1.jsonl"  # made by the unkeyed chain


@pytest.fixture
def anchored(settings, django_capture_on_commit_callbacks):
    """Make `count` entries as in production: anchors are written as each commits,
    every 5 entries here."""
    settings.AUDIT_ANCHOR_EVERY = 5

    def make(count, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return [act(target=Target(str(n)), **kwargs) for n in range(count)]

    return make


def broken(expected_start):
    code, message = verify_command()
    assert code == 1, message
    assert message.startswith(expected_start), message
    return message


def rewrite(first, rehash, **change):
    """What someone with write access to the database does: change the entry `first`,
    then recompute the hash of it and of every later entry with `rehash(entry, prev)`."""
    prev = AuditEntry.objects.filter(id__lt=first.id).order_by("-id").values_list("hash", flat=True).first()
    for entry in AuditEntry.objects.filter(id__gte=first.id).order_by("id"):
        if entry.id == first.id:
            for name, value in change.items():
                setattr(entry, name, value)
        rehash(entry, prev or chain.GENESIS)
        raw(
            "UPDATE audit_auditentry SET actor_name=%s, prev_hash=%s, hash=%s, key_id=%s WHERE id=%s",
            entry.actor_name, entry.prev_hash, entry.hash, entry.key_id, entry.id,
        )  # fmt: skip
        prev = entry.hash


def unkeyed(entry, prev):
    """The chain's own hash before it was keyed (plain SHA-256)."""
    entry.key_id, entry.prev_hash = "", prev
    entry.hash = chain.content_hash(entry, prev, None)


def guessed_key(entry, prev):
    """The chain's own function, under a key that is not the console's."""
    entry.prev_hash = prev
    entry.hash = chain.content_hash(
        entry, prev, keys.Key(entry.key_id, 0, b"a guess at the audit key, 32+ chars")
    )


# --- the two attacks of the review ---------------------------------------------------------


def test_deleting_the_newest_entries_is_reported(anchored):
    entries = anchored(12)
    assert [a.id for a in anchors.read()] == [entries[0].id, entries[5].id, entries[10].id]
    assert verify_command()[0] == 0
    raw("DELETE FROM audit_auditentry WHERE id >= %s", entries[9].id)
    message = broken("audit chain broken: its newest entries were removed: the anchor of ")
    assert message.endswith(f"names entry #{entries[10].id}, but the trail ends at #{entries[8].id}")

    raw("DELETE FROM audit_auditentry")
    broken("audit chain broken: its newest entries were removed")
    assert "but the trail is empty" in verify_command()[1]


@pytest.mark.parametrize(
    "rehash", [unkeyed, guessed_key, chain.seal], ids=["unkeyed", "guessed-key", "with-the-key"]
)
@pytest.mark.parametrize("edited", [0, 3])
def test_editing_an_entry_and_recomputing_the_later_hashes_is_reported(anchored, rehash, edited):
    entries = anchored(12)
    rewrite(entries[edited], rehash, actor_name="mallory")
    if rehash is guessed_key:  # without the key, the edited entry itself gives it away
        broken(f"audit chain broken at entry #{entries[edited].id} (")
        assert verify_command()[1].endswith("its content was altered")
    elif rehash is unkeyed and edited:  # unkeyed hashes after keyed ones
        assert verify_command()[1].endswith(
            "is not keyed but follows keyed entries: the chain was rewritten from here"
        )
    else:  # a chain that holds on its own (all unkeyed, or rehashed with the key): the anchors disagree
        anchor = next(a for a in anchors.read() if a.id >= entries[edited].id)
        broken(f"audit chain broken at entry #{anchor.id} (")
        assert verify_command()[1].endswith(
            f"does not match its anchor of {anchor.at}: the trail was rewritten after that"
        )


def test_an_anchor_cannot_be_forged_or_edited_without_the_key(anchored):
    entries = anchored(3)
    file = anchors.path()
    forged = {"id": entries[2].id, "hash": entries[2].hash, "at": "2026-01-01T00:00:00+00:00"}
    with open(file, "a") as f:
        f.write(json.dumps({**forged, "key": keys.current().id, "mac": "0" * 64}) + "\n")
    broken(f"audit chain broken: the anchor on line 2 of {file} was not written with the audit key")
    file.write_text(file.read_text().splitlines()[0] + "\n{torn")
    broken(f"audit chain broken: line 2 of the anchor file {file} is not an anchor")


# --- long actions ----------------------------------------------------------------------


def test_a_completed_outcome_is_sealed_with_the_key():
    with long_action(actor(), "audit.export") as progress:
        progress.size = 10
    entry = AuditEntry.objects.get(action="audit.export")
    assert entry.key_id == keys.current().id and chain.verify() is None
    entry.size_bytes = 1  # the outcome changed, its seal recomputed with the chain's own function...
    forged = chain.ending_hash(entry, keys.Key(entry.key_id, 0, b"a guess at the audit key, 32+ chars"))
    raw("UPDATE audit_auditentry SET size_bytes=1, end_hash=%s WHERE id=%s", forged, entry.id)
    assert chain.verify() == (entry, "its outcome was altered")
    unkeyed_seal = chain.ending_hash(entry, None)  # ...or with the unkeyed one
    raw("UPDATE audit_auditentry SET end_hash=%s WHERE id=%s", unkeyed_seal, entry.id)
    assert chain.verify() == (entry, "its outcome was altered")


# --- when anchors are written ---------------------------------------------------------------


def test_anchors_follow_commits_and_the_file_is_private(anchored):
    entries = anchored(6)
    file = anchors.path()
    assert stat.S_IMODE(file.stat().st_mode) == 0o600
    with pytest.raises(RuntimeError), transaction.atomic():  # an entry rolled back is never anchored
        rolled_back = act()
        raise RuntimeError
    marks = anchors.read()
    assert [a.id for a in marks] == [entries[0].id, entries[5].id] and rolled_back.id not in {
        a.id for a in marks
    }
    assert [a.hash for a in marks] == [entries[0].hash, entries[5].hash]
    assert {a.key_id for a in marks} == {keys.current().id}
    code, message = verify_command()
    assert code == 0
    assert (
        message
        == f"audit chain OK: 6 entries; anchored up to #{entries[5].id} at {marks[1].at}, 0 entries since"
    )


def test_anchors_are_logged_for_syslog(anchored, caplog):
    caplog.set_level("INFO", logger="wharf.audit")
    (entry,) = anchored(1)
    (line,) = [r.getMessage() for r in caplog.records if r.name == "wharf.audit"]
    assert (
        line.startswith("audit anchor {") and json.loads(line.removeprefix("audit anchor "))["id"] == entry.id
    )


def test_the_syslog_setting_sends_anchors_to_syslog():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as receiver:
        receiver.bind(("127.0.0.1", 0))
        receiver.settimeout(30)
        script = (
            "import django, logging; django.setup(); logging.getLogger('wharf.audit').info('audit anchor {}')"
        )
        env = {**os.environ, "WHARF_AUDIT_SYSLOG": f"127.0.0.1:{receiver.getsockname()[1]}",
               "DJANGO_SETTINGS_MODULE": "tests.settings"}  # fmt: skip
        subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, check=True, timeout=60)
        assert b"audit anchor {}" in receiver.recv(4096)


@pytest.mark.django_db(transaction=True)  # the timer reads the database from its own thread
def test_a_timer_anchors_what_came_after_the_last_anchor(settings):
    settings.AUDIT_ANCHOR_EVERY, settings.AUDIT_ANCHOR_SECONDS = 100, 0.5
    first = act()
    assert [a.id for a in anchors.read()] == [first.id]  # the first keyed entry: at once
    second = act()
    for _ in range(200):
        if len(anchors.read()) == 2:
            break
        time.sleep(0.05)
    assert [a.id for a in anchors.read()] == [first.id, second.id]


@pytest.mark.django_db(transaction=True)  # other processes write to the same database
def test_several_processes_append_and_anchor_at_once(settings):
    settings.AUDIT_ANCHOR_EVERY = 3
    test_db = connection.settings_dict["NAME"]
    url = os.environ.get("DATABASE_URL")  # PostgreSQL: the same server, the test database
    url = urlsplit(url)._replace(path=f"/{test_db}").geturl() if url else f"sqlite:///{test_db}"
    env = {**os.environ, "DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "tests.settings",
           "WHARF_AUDIT_ANCHOR_FILE": str(anchors.path()), "WHARF_AUDIT_ANCHOR_EVERY": "3",
           "WHARF_AUDIT_KEYS": ",".join(django_settings.AUDIT_KEYS)}  # fmt: skip
    script = (
        "import django; django.setup()\n"
        "from console.actions import Actor, perform\n"
        "for n in range(25): perform(Actor(name='p', system=True), 'host.test', run=lambda: None)\n"
    )
    writers = [subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, env=env) for _ in range(3)]

    def append_here():
        try:
            for _ in range(25):
                act()
        finally:
            connection.close()

    threads = [threading.Thread(target=append_here) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [w.wait(timeout=120) for w in writers] == [0, 0, 0]
    marks = [a.id for a in anchors.read()]
    gaps = [newer - older for older, newer in zip(marks, marks[1:], strict=False)]
    assert min(gaps) >= 3  # each writer checks the file's newest anchor under the lock: no extra ones
    assert len(marks) >= 125 // 3 - 5  # and none missing (ids may be skipped on PostgreSQL)
    code, message = verify_command()
    assert code == 0 and message.startswith("audit chain OK: 125 entries;"), message


# --- purge, upgrade, rotation -------------------------------------------------------------


def test_purge_keeps_the_anchored_chain_verifying(anchored, tmp_path, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        olds, news = old_and_new(old=7, new=4)
        purge(tmp_path, "--days", "30")
    assert anchors.read()[0].id == olds[0].id  # an anchor of a purged entry stays in the file
    code, message = verify_command()
    assert code == 0 and message.startswith("audit chain OK: 5 entries;"), message
    raw("DELETE FROM audit_auditentry WHERE id >= %s", news[0].id)  # the purge is no cover for more
    assert verify_command()[0] == 1


def load_v1_trail():
    """The trail the unkeyed chain wrote (five entries after a purge, a long action among them)."""
    records = [json.loads(line) for line in V1_TRAIL.read_text().splitlines()]
    AuditEntry.objects.bulk_create(AuditEntry(**r) for r in records)
    with connection.cursor() as cursor:  # PostgreSQL: new ids after the loaded ones
        for sql in connection.ops.sequence_reset_sql(no_style(), [AuditEntry]):
            cursor.execute(sql)
    return records


def test_a_trail_from_before_the_chain_was_keyed_still_verifies_and_goes_on_keyed(anchored):
    records = load_v1_trail()
    assert {r["key_id"] for r in AuditEntry.objects.values("key_id")} == {""}
    code, message = verify_command()
    assert code == 0 and message.startswith(
        "audit chain OK: 5 entries, the oldest 5 from before the chain was keyed;"
    )

    new = anchored(2)
    assert new[0].prev_hash == records[-1]["hash"] and new[0].key_id == keys.current().id
    assert [a.id for a in anchors.read()] == [new[0].id]  # the first keyed entry seals the old ones
    code, message = verify_command()
    assert code == 0 and message.startswith(
        "audit chain OK: 7 entries, the oldest 5 from before the chain was keyed;"
    )

    old = AuditEntry.objects.get(id=records[-1]["id"])  # the old part can no longer be rewritten:
    rewrite(old, unkeyed, actor_name="mallory")  # not even with the keyed entries made unkeyed too
    (anchor,) = anchors.read()
    broken(f"audit chain broken at entry #{new[0].id} (")
    assert verify_command()[1].endswith(
        f"does not match its anchor of {anchor.at}: the trail was rewritten after that"
    )


def test_a_rotated_key_seals_new_entries_and_older_keys_still_verify(anchored, settings):
    before = anchored(3)
    old_key = keys.current()
    settings.AUDIT_KEYS = ["a new audit key, at least 32 characters", *settings.AUDIT_KEYS]
    after = anchored(2)
    assert after[0].key_id == keys.current().id != old_key.id and before[0].key_id == old_key.id
    assert [a.id for a in anchors.read()] == [before[0].id, after[0].id]  # a new key is anchored at once
    assert verify_command()[0] == 0

    def with_the_old_key(entry, prev):  # someone who kept the old key rewrites newer entries
        entry.key_id, entry.prev_hash = old_key.id, prev
        entry.hash = chain.content_hash(entry, prev, old_key)

    rewrite(after[1], with_the_old_key, actor_name="mallory")
    assert chain.verify() == (
        AuditEntry.objects.get(id=after[1].id),
        "is sealed with an older key than the entry before it: the chain was rewritten from here",
    )
    settings.AUDIT_KEYS = settings.AUDIT_KEYS[:1]  # the old key dropped while what it sealed remains
    assert chain.verify() == (
        None,
        f"the anchor on line 1 of {anchors.path()} is sealed with a key this console does not have (key id {old_key.id})",
    )
    anchors.path().unlink()
    entry, reason = chain.verify()
    assert (
        entry.id == before[0].id
        and reason == f"is sealed with a key this console does not have (key id {old_key.id})"
    )


def test_the_key_is_never_written_to_the_database_exports_or_anchors(anchored, tmp_path, caplog, settings):
    caplog.set_level("INFO")
    settings.AUDIT_KEYS = ["the audit key that must stay out of the database 1234"]
    secret = settings.AUDIT_KEYS[0]
    anchored(6)
    with long_action(actor(), "audit.export"):
        pass
    out = tmp_path / "trail.json"
    call_command("audit", "export", "--format", "json", "--output", str(out), stderr=io.StringIO())
    purge(tmp_path, "--days", "0")
    written = [out.read_text(), anchors.path().read_text(), caplog.text]
    written += [json.dumps(r) for p in tmp_path.glob("*.jsonl.gz") for r in read_archive(p)]
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            cursor.execute(f'SELECT * FROM "{table}"')
            written.append(repr(cursor.fetchall()))
    assert AuditEntry.objects.exists() and all(secret not in text for text in written)
    assert repr(keys.current()).find(secret) == -1
