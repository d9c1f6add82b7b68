"""The data folder holds the SQLite database (live sessions, password hashes), the secret
key and the Fernet key, and the recordings folder what was typed and seen in terminals:
nobody but the console's own user may read them. Settings create
the folder 0700 and the database 0600 (SQLite gives its -journal, -wal and -shm files the
database's mode); this check warns about anything in it that others can read, at
`manage.py check` (and migrate, runserver) and when the ASGI server starts."""

import logging
import stat
from pathlib import Path

from django.conf import settings
from django.core.checks import Tags, Warning, register

log = logging.getLogger("wharf")


def exposed_data_files(folder, skip=()):
    """The data folder and everything in it that group or others may access (the folders
    in `skip`, such as the static root, may stay readable)."""
    folder = Path(folder)
    if not folder.exists():
        return []
    skipped = {Path(s).resolve() for s in skip}
    found = []
    pending = [folder]
    while pending:
        path = pending.pop()
        if path.resolve() in skipped:
            continue
        mode = path.lstat().st_mode
        if stat.S_ISLNK(mode):
            continue
        if mode & 0o077:
            found.append(path)
        if stat.S_ISDIR(mode):
            pending.extend(sorted(path.iterdir()))
    return sorted(found)


@register(Tags.security)
def data_files_private(app_configs=None, **kwargs):
    folders = {settings.DATA_DIR: "the data folder holds sessions, password hashes and keys"}
    recordings = Path(settings.RECORDINGS_DIR)
    if not recordings.resolve().is_relative_to(Path(settings.DATA_DIR).resolve()):
        folders[recordings] = "terminal recordings show what was typed and seen"
    warnings = []
    for folder, why in folders.items():
        for path in exposed_data_files(folder, skip=[settings.STATIC_ROOT]):
            mode = "700" if path.is_dir() else "600"
            warnings.append(Warning(
                f"{path} can be read by other users of this machine (mode {stat.filemode(path.stat().st_mode)}): "
                f"{why}.",
                hint=f"chmod {mode} {path}", id="wharf.W001",
            ))  # fmt: skip
    return warnings


def warn_at_start():
    for warning in data_files_private():
        log.warning("%s (%s)", warning.msg, warning.hint)
