"""Settings for the test suite: a throw-away data folder and a file SQLite database
(the live server thread and the tests must share it)."""

import atexit
import os
import shutil
import tempfile

if "WHARF_DATA_DIR" not in os.environ:
    os.environ["WHARF_DATA_DIR"] = tempfile.mkdtemp(prefix="wharf-test-")
    atexit.register(shutil.rmtree, os.environ["WHARF_DATA_DIR"], ignore_errors=True)
# Each pytest-xdist worker has a folder of its own inside it (its child processes inherit it).
worker = os.environ.get("PYTEST_XDIST_WORKER")
if worker and os.path.basename(os.environ["WHARF_DATA_DIR"]) != worker:
    os.environ["WHARF_DATA_DIR"] = os.path.join(os.environ["WHARF_DATA_DIR"], worker)

from console.settings import *  # noqa: E402,F403
from console.settings import DATA_DIR, DATABASES  # noqa: E402

if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / "test.sqlite3")}
    # a throw-away database: no fsync per commit (the suite waits on the disk otherwise)
    DATABASES["default"]["OPTIONS"]["init_command"] = "PRAGMA synchronous=OFF"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
HOST_STATUS_TIMEOUT = 2.0
DOCKER_TIMEOUT = 30.0
EVENTS_LINGER_SECONDS = 0  # a feed stops when its last page leaves (tests/test_events.py counts them)
AUDIT_ANCHOR_SECONDS = 0  # no timer threads across tests (tests/conftest.py: one anchor file per test)
