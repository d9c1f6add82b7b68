"""The data folder (database with sessions and password hashes, secret key, Fernet key)
is private from the first run, and a check warns when it is not."""

import os
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

from console.checks import data_files_private, exposed_data_files

ROOT = Path(__file__).resolve().parent.parent


def manage(data_dir, *args, code=None):
    """manage.py (or `python -c code`) with a umask that would make files world-readable."""
    env = {**os.environ, "WHARF_DATA_DIR": str(data_dir), "DJANGO_SETTINGS_MODULE": "console.settings"}
    env.pop("DATABASE_URL", None)  # the SQLite file is what this is about
    argv = [sys.executable, "-c", code] if code else [sys.executable, "manage.py", *args]
    return subprocess.run(
        argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False,
        preexec_fn=lambda: os.umask(0o022),
    )  # fmt: skip


def mode(path):
    return stat.S_IMODE(path.stat().st_mode)


def test_a_first_run_makes_every_data_file_private(tmp_path):
    data = tmp_path / "data"
    result = manage(data, "migrate", "--noinput", "-v0")
    assert result.returncode == 0, result.stderr
    assert mode(data) == 0o700
    for name in ("wharf.sqlite3", "secret_key", "fernet.key"):
        assert mode(data / name) == 0o600, name
    # SQLite gives its journals the database's mode: a WAL left open shows it
    db = sqlite3.connect(data / "wharf.sqlite3")
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("INSERT INTO django_migrations (app, name, applied) VALUES ('x', 'y', '2026-01-01')")
    db.commit()
    assert mode(data / "wharf.sqlite3-wal") == 0o600 and mode(data / "wharf.sqlite3-shm") == 0o600
    db.close()
    assert exposed_data_files(data) == []
    check = manage(data, "check")
    assert check.returncode == 0 and "wharf.W001" not in check.stdout + check.stderr


def test_the_check_warns_about_readable_data_files(tmp_path, settings):
    data = tmp_path / "data"
    (data / "static").mkdir(parents=True)
    (data / "static" / "site.css").write_text("body {}")
    (data / "wharf.sqlite3").write_text("")
    (data / "archive").mkdir()
    (data / "archive" / "audit.jsonl").write_text("{}")
    for path, bits in ((data, 0o755), (data / "wharf.sqlite3", 0o644), (data / "archive", 0o700),
                       (data / "archive" / "audit.jsonl", 0o640), (data / "static" / "site.css", 0o644)):
        path.chmod(bits)
    settings.DATA_DIR, settings.STATIC_ROOT = data, data / "static"
    warned = {w.hint for w in data_files_private()}
    assert warned == {
        f"chmod 700 {data}", f"chmod 600 {data / 'wharf.sqlite3'}", f"chmod 600 {data / 'archive' / 'audit.jsonl'}"
    }  # the static root may stay readable
    result = manage(data, "check")
    assert "wharf.W001" in result.stderr and str(data / "wharf.sqlite3") in result.stderr
    started = manage(data, code="import console.asgi")  # the server warns when it starts
    assert started.returncode == 0 and f"chmod 600 {data / 'wharf.sqlite3'}" in started.stderr
    for path in (data, data / "wharf.sqlite3", data / "archive" / "audit.jsonl"):
        path.chmod(0o700 if path.is_dir() else 0o600)
    assert data_files_private() == []



def test_audit_archives_are_private(tmp_path, db):
    from console.actions import Actor, record_event
    from console.audit.export import audit_purge

    for _ in range(2):  # the newest entry always stays
        record_event(Actor(name="someone"), "auth.logout")
    old = os.umask(0o022)
    try:
        result = audit_purge(actor=Actor(system=True, name="test"), days=0, archive_dir=tmp_path / "archive")
    finally:
        os.umask(old)
    assert mode(tmp_path / "archive") == 0o700 and mode(result.archive) == 0o600
