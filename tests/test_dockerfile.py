"""The Dockerfile builds, and the image serves the console.

No base image can be pulled here, so the test makes one: a Debian bookworm with python3
from `debootstrap --variant=minbase` (Debian's packages), `docker import`ed into a
test daemon of its own (tests/harness.py). Python packages come from a wheelhouse built on
this machine (`pip wheel`, an install step) and served to the build on 127.0.0.1 only;
nothing inside the build reaches past loopback. The image then runs with the daemon's
socket mounted, in a network namespace of its own (loopback only: whatever it listens on
is reachable from inside it alone), and a script run inside it logs in over HTTP.

The debootstrap tarball and the wheelhouse are made once per machine and kept outside the
clone (~/.cache/wharf-test/dockerfile, or $WHARF_TEST_CACHE), so that a fresh clone (CI)
finds them; so are the daemon's images and build cache, so that the build of unchanged
files is a cache hit, as on an operator's machine (a change to requirements.txt, the
Dockerfile or any file it copies builds again from there). Skipped, with the reason,
when debootstrap is not installed.
"""

import contextlib
import fcntl
import hashlib
import http.server
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import zipfile
from functools import partial
from pathlib import Path

import docker.errors
import pytest
from docker.utils.build import exclude_paths
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.harness import DockerEnv

REPO = Path(__file__).resolve().parent.parent
CACHE = Path(
    os.environ.get("WHARF_TEST_CACHE") or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "wharf-test"
) / "dockerfile"
BASE = "wharf-test/debian:bookworm"
IMAGE = "wharf-test/console:latest"
PASSWORD = "dockerfile test password 7"
INNER_SOCKET = "/run/wharf-test/docker.sock"  # where the test daemon's socket is mounted in the image

# Run inside the container: wait for the console, log in, print the hosts page.
LOGIN = r"""
import http.cookiejar, re, sys, time, urllib.parse, urllib.request
base = "http://127.0.0.1:8000"
opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
for _ in range(240):
    try:
        page = opener.open(base + "/accounts/login/", timeout=5).read().decode()
        break
    except OSError:
        time.sleep(0.5)
else:
    sys.exit("the console did not answer on 127.0.0.1:8000")
token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
form = urllib.parse.urlencode({"csrfmiddlewaretoken": token, "username": "admin", "password": sys.argv[1]})
reply = opener.open(base + "/accounts/login/", form.encode(), timeout=30)
print("after login:", reply.geturl())
print(opener.open(base + "/hosts/", timeout=30).read().decode())
"""


# What a slim base image leaves out too: the downloaded packages, the package lists,
# documentation and translations (half of the root's size, and of its import).
SLIMMED = ["var/cache/apt/archives", "var/lib/apt/lists", "usr/share/doc", "usr/share/man", "usr/share/locale"]


def _base_tar():
    """A Debian bookworm root with python3 and venv, as a tarball (made once, cached)."""
    tar = CACHE / "bookworm-minbase-slim.tar"
    if tar.exists():
        return tar
    debootstrap = shutil.which("debootstrap", path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin")
    if debootstrap is None:
        pytest.skip("debootstrap is not installed, so the Dockerfile is not built "
                    "(apt-get install debootstrap; scripts/test installs it)")  # fmt: skip
    CACHE.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=CACHE) as work:
        root = Path(work) / "root"
        done = subprocess.run(
            [debootstrap, "--variant=minbase", "--include=python3,python3-venv", "bookworm", str(root)],
            capture_output=True, text=True,
        )  # fmt: skip
        assert done.returncode == 0, f"debootstrap failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        for folder in SLIMMED:
            for entry in (root / folder).iterdir():
                if entry.is_dir() and not entry.is_symlink():
                    shutil.rmtree(entry)
                else:
                    entry.unlink()
        subprocess.run(["tar", "-C", str(root), "-cf", f"{work}/base.tar", "."], check=True)
        os.replace(f"{work}/base.tar", tar)
    return tar


def _wheelhouse(python):
    """Wheels of requirements.txt for the image's Python, made once on this machine.
    pip evaluates dependency markers for the Python it runs on (here 3.11.7), not the
    image's (bookworm: 3.11.2, where redis also needs async-timeout): add what is missing."""
    requirements = (REPO / "requirements.txt").read_bytes()
    folder = CACHE / f"wheels-{python}-{hashlib.sha256(requirements).hexdigest()[:12]}"
    if folder.exists():
        return folder
    CACHE.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(dir=CACHE, prefix="tmp-"))
    wanted = ["-r", str(REPO / "requirements.txt")]
    while wanted:
        done = subprocess.run(
            [sys.executable, "-m", "pip", "wheel", "-q", "--disable-pip-version-check", "-w", str(work), *wanted],
            capture_output=True, text=True,
        )  # fmt: skip
        assert done.returncode == 0, f"pip wheel failed:\n{done.stderr[-3000:]}"
        wanted = _missing_requirements(work, python)
    os.replace(work, folder)
    return folder


def _missing_requirements(folder, python):
    """What the wheels in `folder` require on `python` that is not in `folder`."""
    env = {"python_full_version": python, "python_version": python.rpartition(".")[0], "extra": ""}
    wheels = list(folder.glob("*.whl"))
    have = {canonicalize_name(wheel.name.split("-")[0]) for wheel in wheels}
    missing = set()
    for wheel in wheels:
        with zipfile.ZipFile(wheel) as archive:
            metadata = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
            for line in archive.read(metadata).decode().splitlines():
                if not line.startswith("Requires-Dist:"):
                    continue
                requirement = Requirement(line.partition(":")[2])
                if requirement.marker is None or requirement.marker.evaluate(env):
                    if canonicalize_name(requirement.name) not in have:
                        missing.add(f"{requirement.name}{requirement.specifier}")
    return sorted(missing)


@pytest.fixture(scope="module")
def engine():
    """A daemon whose images and build cache are kept in CACHE; a second test run at the
    same time gets one that starts empty."""
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / "engine.lock", "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            kept = {"unix-1": str(CACHE / "engine")}
        except BlockingIOError:
            kept = {}
        with DockerEnv(unix_daemons=1, tls_daemons=0, registry=False, ssh=False, data_roots=kept) as env:
            client = env.client(env.daemons[0].name, timeout=900)
            yield env.daemons[0], client
            client.images.prune(filters={"dangling": True})  # what an earlier build left untagged


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@contextlib.contextmanager
def _served(folder):
    """A folder over HTTP on 127.0.0.1 (a build with --network host reaches it). The port
    comes from the folder's name, so that the build's PIP_ARGS, and with them the cache
    of its pip step, stay the same from one run to the next; any port if that one is taken."""
    handler = partial(_QuietHandler, directory=str(folder))
    port = 20000 + int(hashlib.sha256(folder.name.encode()).hexdigest(), 16) % 30000
    try:
        server = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    except OSError:
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def test_build_context_leaves_out_venv_data_git_and_caches():
    patterns = (REPO / ".dockerignore").read_text().splitlines()
    sent = {path.split("/")[0] for path in exclude_paths(str(REPO), patterns)}
    assert {"manage.py", "requirements.txt", "console", "templates", "static", "Dockerfile"} <= sent
    assert not sent & {".venv", ".git", "data", ".cache", "tests", ".pytest_cache", ".ruff_cache"}


@pytest.mark.heavy(6)
def test_image_builds_from_a_local_base_and_serves_the_console(engine):
    spec, client = engine
    base = _base_tar()
    made = f"{base.stat().st_size}-{base.stat().st_mtime_ns}"  # this tarball, not an earlier one
    try:
        imported = client.images.get(BASE).labels.get("wharf-test.base") == made
    except docker.errors.ImageNotFound:
        imported = False
    if not imported:
        client.api.import_image_from_file(str(base), repository=BASE.split(":")[0], tag="bookworm",
                                          changes=[f"LABEL wharf-test.base={made}"])  # fmt: skip
    version = client.containers.run(
        BASE, ["python3", "-c", "import platform; print(platform.python_version())"],
        network_disabled=True, remove=True,
    ).decode().strip()  # fmt: skip
    try:
        with _served(_wheelhouse(version)) as wheels:
            client.images.build(
                path=str(REPO), tag=IMAGE, network_mode="host", rm=True, forcerm=True,
                buildargs={"BASE": BASE, "PIP_ARGS": f"--no-index --find-links {wheels} --trusted-host 127.0.0.1"},
            )  # fmt: skip
    except docker.errors.BuildError as exc:
        log = "".join(str(line.get("stream") or line.get("error") or "") for line in exc.build_log)
        pytest.fail(f"docker build failed: {exc}\n{log[-5000:]}")

    socket_path = spec.url.removeprefix("unix://")
    container = client.containers.run(
        IMAGE, detach=True, network_disabled=True,
        environment={"WHARF_ADMIN_PASSWORD": PASSWORD, "DOCKER_HOST": f"unix://{INNER_SOCKET}"},
        volumes={socket_path: {"bind": INNER_SOCKET, "mode": "rw"}},
        group_add=[str(os.stat(socket_path).st_gid)],
    )  # fmt: skip
    code, output = container.exec_run(["python", "-c", LOGIN, PASSWORD])
    page = output.decode(errors="replace")
    logs = container.logs().decode(errors="replace")
    assert code == 0, f"{page}\n--- console log:\n{logs}"
    assert "after login: http://127.0.0.1:8000/hosts/" in page
    assert 'data-host="local"' in page and "status-up" in page, page
    assert f"DOCKER_HOST is unix://{INNER_SOCKET}: registered as host 'local'" in logs
    assert container.exec_run(["id", "-u"]).output.strip() == b"10001"  # not root
