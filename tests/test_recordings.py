"""Terminal session recordings on the audit trail: a recording (console/terminals/recording.py)
made inside a long action is kept by its entry and sealed with its outcome; `audit verify`
holds the file to it (an edited, shortened or deleted recording names its entry); a purge
deletes the files of the entries it removes; replay and download are audit pages, for
those allowed `audit.view`, and reading a recording is always on the trail."""

import csv
import hashlib
import io
import json
import os
import stat
from datetime import timedelta

import pytest
from django.utils import timezone

from console.actions import Target, long_action
from console.audit import chain, keys
from console.audit.models import AuditEntry
from console.audit.replay import CONTENT_TYPE
from console.hosts.models import Host
from console.terminals.recording import Recorder
from tests.conftest import client_of
from tests.test_audit import act, actor, at, purge, raw, read_archive, verify_command

pytestmark = pytest.mark.django_db
SESSION = [b"$ echo hello\r\n", b"hello\r\n", "$ printf 'caf\u00e9'\r\n".encode(), b"caf\xc3", b"\xa9\r\n"]


@pytest.fixture(autouse=True)
def recordings_dir(settings, tmp_path):
    settings.RECORDINGS_DIR = tmp_path / "recordings"
    return settings.RECORDINGS_DIR


@pytest.fixture
def host(db):
    """A host to name in the entries: no Docker is asked (the actors hold all-host grants)."""
    return Host.objects.create(name="unix-1", url="unix:///nonexistent/docker.sock")


def record(host, who=None, output=SESSION, cap=None, fail=None):
    """A terminal session as the terminals record it: a `container.logs` long action whose
    output goes through a Recorder, put in `progress.recording`. Returns its entry."""
    target = Target(id="c0ffee", name="web-1")
    try:
        with long_action(who or actor(), "container.logs", host=host, target=target) as progress:
            recorder = Recorder(width=80, height=24, title="web-1", cap=cap)
            for chunk in output:
                recorder.output(chunk)
                progress.size += len(chunk)
            progress.recording = recorder.close()
            if fail:
                raise RuntimeError(fail)
    except RuntimeError:
        pass
    return AuditEntry.objects.get(pk=AuditEntry.objects.filter(action="container.logs").order_by("-id")[0].pk)


def file_of(entry, recordings_dir):
    return recordings_dir / entry.recording["file"]


# --- the chain ----------------------------------------------------------------------


def test_a_session_keeps_its_recording_sealed_with_its_outcome(host, recordings_dir):
    entry = record(host)
    path = file_of(entry, recordings_dir)
    data = path.read_bytes()
    assert entry.outcome == "succeeded" and entry.end_hash
    assert entry.recording["bytes"] == len(data) and entry.recording["cut"] is False
    assert len(entry.recording["sha256"]) == 64
    lines = data.decode().splitlines()
    assert json.loads(lines[0])["width"] == 80
    assert "".join(json.loads(line)[2] for line in lines[1:]) == b"".join(SESSION).decode()
    assert stat.S_IMODE(os.stat(recordings_dir).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    code, message = verify_command()
    assert code == 0 and message.startswith("audit chain OK: 1 entries, 1 with a recording that matches;")


def test_a_failed_session_keeps_its_recording_too(host, recordings_dir):
    entry = record(host, fail="the container stopped")
    assert entry.outcome == "failed" and entry.error == "interrupted"
    assert file_of(entry, recordings_dir).exists()
    assert verify_command()[0] == 0


def test_entries_without_a_recording_keep_the_ending_hash_they_always_had(host):
    """The recording is sealed only when there is one: every entry written before keeps
    its outcome hash (the same function as before, over the same fields)."""
    with long_action(actor(), "container.logs", host=host, target=Target(id="c0ffee")) as progress:
        progress.size = 10
    entry = AuditEntry.objects.get(action="container.logs")
    assert entry.recording is None
    before = chain._digest([getattr(entry, f) for f in chain.ENDING], entry.hash, keys.find(entry.key_id))
    assert entry.end_hash == before
    recorded = record(host)
    assert recorded.end_hash != chain._digest(
        [getattr(recorded, f) for f in chain.ENDING], recorded.hash, keys.find(recorded.key_id)
    )
    assert verify_command()[0] == 0


def _change_a_byte(path):
    data = bytearray(path.read_bytes())
    at = data.index(b"hello\\r\\n\"]")
    data[at] = ord("j")  # "jello": still valid JSON, same size
    path.write_bytes(bytes(data))


def _remove_a_line(path):
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join(lines[:1] + lines[2:]))  # the first event after the header


EDITS = {
    "one byte changed": (_change_a_byte, "was altered: its SHA-256 no longer matches the entry"),
    "a line removed": (_remove_a_line, "was altered: its SHA-256 no longer matches the entry"),
    "file deleted": (lambda path: path.unlink(), "is missing"),
    "file emptied": (lambda path: path.write_bytes(b""), "was altered"),
}


@pytest.mark.parametrize("edit", EDITS)
def test_an_edited_recording_fails_verify_naming_its_entry(host, recordings_dir, edit):
    change, reason = EDITS[edit]
    act()
    entry = record(host)
    act()  # the recorded entry is not the last one
    assert verify_command()[0] == 0
    path = file_of(entry, recordings_dir)
    change(path)
    code, message = verify_command()
    assert code == 1
    assert message.startswith(f"audit chain broken at entry #{entry.id} (")
    assert f"container.logs): its recording {path.name} {reason}" in message
    assert chain.verify()[0].id == entry.id


def test_changing_the_hash_the_entry_keeps_is_caught_by_the_outcome_seal(host, recordings_dir):
    """Someone who edits the file and writes its new hash into the entry, without the key."""
    entry = record(host)
    path = file_of(entry, recordings_dir)
    _change_a_byte(path)
    forged = dict(entry.recording, sha256=hashlib.sha256(path.read_bytes()).hexdigest())
    raw("UPDATE audit_auditentry SET recording=%s WHERE id=%s", json.dumps(forged), entry.id)
    assert verify_command() == (1, f"audit chain broken at entry #{entry.id} ({entry.time.isoformat()}, "
                                   "container.logs): its outcome was altered")  # fmt: skip


def test_a_recording_put_on_an_entry_that_had_none_is_caught(host, recordings_dir):
    other = record(host)
    plain = act()  # no long action: no outcome hash
    raw("UPDATE audit_auditentry SET recording=%s WHERE id=%s", json.dumps(other.recording), plain.id)
    code, message = verify_command()
    assert code == 1 and f"#{plain.id}" in message and message.endswith("its recording was added after it was written")


def test_a_cut_recording_verifies_and_says_it_was_cut(host, recordings_dir):
    entry = record(host, output=[b"x" * 100] * 20, cap=600)
    text = file_of(entry, recordings_dir).read_text()
    assert entry.recording["cut"] is True and "[recording cut: " in text
    assert entry.recording["bytes"] == len(text.encode()) <= 600 + 100
    assert verify_command()[0] == 0


# --- retention ------------------------------------------------------------------------


def old_then_new(host):
    """A recorded session 40 days old (past the retention of the purges below), then a new one."""
    with at(timezone.now() - timedelta(days=40)):
        act()
        old_session = record(host)
    return old_session, record(host)


def test_purge_deletes_the_recordings_of_the_purged_entries_only(host, recordings_dir, tmp_path):
    old_session, kept_session = old_then_new(host)
    old_file, kept_file = file_of(old_session, recordings_dir), file_of(kept_session, recordings_dir)
    assert old_file.exists() and kept_file.exists()

    message = purge(tmp_path / "archive", "--days", "30")
    assert f"(up to #{old_session.id})" in message
    assert not old_file.exists() and kept_file.exists()
    assert verify_command()[0] == 0
    archived = read_archive(next((tmp_path / "archive").iterdir()))
    assert [r["recording"] for r in archived if r["id"] == old_session.id] == [old_session.recording]


def test_a_purge_goes_on_past_a_recording_file_already_gone(host, recordings_dir, tmp_path):
    old_session, _ = old_then_new(host)
    file_of(old_session, recordings_dir).unlink()
    assert purge(tmp_path, "--days", "30").startswith("purged ")
    assert verify_command()[0] == 0


# --- replay and download ----------------------------------------------------------------


@pytest.mark.parametrize("role", ["Developer", "Viewer"])
@pytest.mark.parametrize("page", ["replay/", "recording.cast"])
def test_replay_and_download_are_refused_like_the_other_audit_pages(host, make_user, role, page):
    entry = record(host)
    response = client_of(make_user("dev", role=role)).get(f"/audit/{entry.id}/{page}")
    assert response.status_code == 403
    assert "not allowed to see the audit trail" in response.content.decode()
    denied = AuditEntry.objects.filter(actor_name="dev", outcome="denied")
    assert [(e.action, e.outcome, e.target_id) for e in denied] == [("audit.view", "denied", str(entry.id))]


@pytest.mark.parametrize("page", ["replay/", "recording.cast"])
def test_anonymous_is_sent_to_the_login(host, client, page):
    entry = record(host)
    response = client.get(f"/audit/{entry.id}/{page}")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_the_replay_page_links_and_shows_the_player(host, admin_client, recordings_dir):
    entry = record(host)
    plain = act()
    listing = admin_client.get("/audit/").content.decode()
    assert f'href="/audit/{entry.id}/replay/"' in listing and f"/audit/{plain.id}/replay/" not in listing
    detail = admin_client.get(f"/audit/{entry.id}/").content.decode()
    assert f'href="/audit/{entry.id}/replay/"' in detail and f'href="/audit/{entry.id}/recording.cast"' in detail

    response = admin_client.get(f"/audit/{entry.id}/replay/")
    html = response.content.decode()
    assert response.status_code == 200
    assert f'data-src="/audit/{entry.id}/recording.cast"' in html
    assert "vendor/xterm/xterm.js" in html and "js/replay.js" in html
    assert entry.recording["sha256"] in html
    assert 'id="replay-cut"' not in html and 'role="alert"' not in html
    # the page itself is a plain read: nothing on the trail for it (AUDIT_READS off)
    assert not AuditEntry.objects.filter(action="audit.view", actor_name="admin").exists()


def test_the_replay_page_says_cut_and_altered(host, admin_client, recordings_dir):
    entry = record(host, output=[b"y" * 100] * 20, cap=600)
    assert 'id="replay-cut"' in admin_client.get(f"/audit/{entry.id}/replay/").content.decode()
    _remove_a_line(file_of(entry, recordings_dir))
    html = admin_client.get(f"/audit/{entry.id}/replay/").content.decode()
    assert 'role="alert"' in html and "was altered: its SHA-256 no longer matches the entry" in html


def test_no_recording_no_replay(host, admin_client):
    plain = act()
    for url in (f"/audit/{plain.id}/replay/", f"/audit/{plain.id}/recording.cast", "/audit/99999/replay/",
                "/audit/99999/recording.cast"):  # fmt: skip
        assert admin_client.get(url).status_code == 404, url
    assert not AuditEntry.objects.filter(action="audit.view").exists()


def test_download_streams_the_cast_and_is_always_audited(host, admin_client, recordings_dir, settings):
    settings.AUDIT_READS = False
    entry = record(host)
    response = admin_client.get(f"/audit/{entry.id}/recording.cast")
    assert response.status_code == 200 and response.streaming
    assert response["Content-Type"] == CONTENT_TYPE
    assert response["Content-Disposition"] == (
        f'attachment; filename="wharf-session-{entry.id}-{entry.time:%Y%m%d-%H%M%S}.cast"'
    )
    reads = AuditEntry.objects.filter(action="audit.view")
    assert [r.outcome for r in reads] == ["started"]  # open while the file is sent
    body = b"".join(response.streaming_content)  # read to its end: the read is complete
    assert body == file_of(entry, recordings_dir).read_bytes()
    read = reads.get()
    assert (read.outcome, read.actor_name, read.target_id, read.size_bytes) == ("succeeded", "admin", str(entry.id), len(body))
    assert read.params == {"recording": entry.recording["file"]}
    assert verify_command()[0] == 0


@pytest.mark.django_db(transaction=True)  # closing a response closes the database connection
def test_a_download_closed_early_is_recorded_as_cancelled(host, make_user, settings):
    settings.RECORDINGS_DIR.mkdir(mode=0o700, parents=True, exist_ok=True)
    entry = record(host, output=[b"z" * 1000] * 3000)  # 3 MB: more than one block
    response = client_of(make_user("auditor", role="Admin")).get(f"/audit/{entry.id}/recording.cast")
    next(iter(response.streaming_content))
    response.close()
    read = AuditEntry.objects.get(action="audit.view")
    assert (read.outcome, read.error) == ("failed", "cancelled")
    assert 0 < read.size_bytes < entry.recording["bytes"]


def test_a_missing_file_is_a_404_and_a_failed_read(host, admin_client, recordings_dir):
    entry = record(host)
    file_of(entry, recordings_dir).unlink()
    response = admin_client.get(f"/audit/{entry.id}/recording.cast")
    assert response.status_code == 404
    read = AuditEntry.objects.get(action="audit.view")
    assert (read.outcome, read.error) == ("failed", f"The file of this recording is missing ({entry.recording['file']}).")
    html = admin_client.get(f"/audit/{entry.id}/replay/").content.decode()
    assert f"its recording {entry.recording['file']} is missing" in html


def test_a_name_in_the_entry_is_never_a_path(host, admin_client, recordings_dir, tmp_path):
    """Only a bare `.cast` name under RECORDINGS_DIR is ever opened, whatever the row says."""
    secret = tmp_path / "secret.cast"
    secret.write_text("not a recording of this entry")
    entry = record(host)
    for name in ("../secret.cast", str(secret), "..", ""):
        raw("UPDATE audit_auditentry SET recording=%s WHERE id=%s", json.dumps(dict(entry.recording, file=name)), entry.id)
        response = admin_client.get(f"/audit/{entry.id}/recording.cast")
        assert response.status_code == 404, name
        assert b"not a recording" not in b"".join(getattr(response, "streaming_content", [response.content]))
    assert verify_command()[0] == 1


def test_reading_a_recording_needs_the_permission_on_all_hosts(host, make_user):
    """audit.view is console-wide: an Admin grant on one host does not give it."""
    entry = record(host)
    user = make_user("hostadmin", role="Admin", host=host)
    assert client_of(user).get(f"/audit/{entry.id}/recording.cast").status_code == 403


def test_exports_carry_the_recording_an_entry_keeps(host, admin_client):
    entry = record(host)
    rows = list(csv.DictReader(io.StringIO(b"".join(admin_client.get("/audit/export.csv").streaming_content).decode())))
    kept = {row["id"]: row["recording"] for row in rows}
    assert json.loads(kept[str(entry.id)]) == entry.recording
    assert all(value == "" for key, value in kept.items() if key != str(entry.id))
    exported = json.loads(b"".join(admin_client.get("/audit/export.json").streaming_content))
    assert [r["recording"] for r in exported if r["id"] == entry.id] == [entry.recording]


def test_the_check_warns_about_readable_recordings_outside_the_data_folder(host, recordings_dir, settings, tmp_path):
    from console.checks import data_files_private

    settings.DATA_DIR = tmp_path / "data"
    settings.DATA_DIR.mkdir(mode=0o700)
    entry = record(host)
    assert data_files_private() == []
    file_of(entry, recordings_dir).chmod(0o644)
    warnings = data_files_private()
    assert [w.hint for w in warnings] == [f"chmod 600 {file_of(entry, recordings_dir)}"]
    assert "terminal recordings show what was typed and seen" in warnings[0].msg
