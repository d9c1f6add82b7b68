"""`docker pull` and `docker push` with live progress, the actions image.pull and
image.push: one long action per host (its entry open while the transfer runs, then
completed with outcome, duration and bytes), read by a websocket (PullConsumer).

Credentials: the Registry whose address the reference names (Docker Hub for a
reference without a registry host) lends its stored username and password to whoever
may pull or push on the host (a host-wide grant: registry.use is not asked, so that an
operator of one host can pull from the console's private registries); they go to the daemon in the X-Registry-Auth
header and nowhere else (not in the audit entry, a message or a page).
"""

import re
import time
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial

from console import gateway
from console.actions import Target, authorize, long_action
from console.errors import InvalidInput, RegistryLoginNeeded, WharfError
from console.registries.models import HUB, V2, Registry

HUB_HOSTS = ("", "docker.io", "index.docker.io", "registry-1.docker.io")  # Docker Hub's names
COALESCE_SECONDS = 0.1  # a layer's progress is sent at most this often

_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_REFERENCE = re.compile(
    rf"(?P<repository>(?:(?P<first>[A-Za-z0-9.-]+(?::\d{{1,5}})?)/)?{_COMPONENT}(?:/{_COMPONENT})*)"
    r"(?::(?P<tag>\w[\w.-]{0,127}))?(?:@(?P<digest>sha256:[0-9a-f]{64}))?"
)


@dataclass(frozen=True)
class Reference:
    """repository[:tag|@digest] as `docker pull` reads it; `registry` is the host[:port]
    it names ("" for Docker Hub)."""

    repository: str
    tag: str = ""
    digest: str = ""
    registry: str = ""

    @classmethod
    def parse(cls, text):
        text = (text or "").strip()
        match = _REFERENCE.fullmatch(text) if len(text) <= 512 else None
        if match is None:
            raise InvalidInput("Give an image as repository[:tag] or repository@sha256:digest.", field="ref")
        first = match["first"] or ""
        registry = first if ("." in first or ":" in first or first == "localhost") else ""
        tag = "" if match["digest"] else match["tag"] or "latest"
        return cls(match["repository"], tag, match["digest"] or "", registry)

    def __str__(self):
        return f"{self.repository}@{self.digest}" if self.digest else f"{self.repository}:{self.tag}"


def _credentials(reference):
    """(registry name, auth): the stored credentials of the registry the reference
    names; (name or "", None) when there are none."""
    if reference.registry not in HUB_HOSTS:
        registry = Registry.objects.filter(kind=V2, address=reference.registry).first()
    else:
        registry = Registry.objects.filter(kind=HUB).first()
    if registry is None or not registry.username:
        return registry.name if registry else "", None
    auth = {"username": registry.username, "password": registry.password, "serveraddress": registry.login_address}
    return registry.name, auth


_LAYER_ID = re.compile(r"[0-9a-f]{12}")  # Docker's short layer ids; other ids are tags
# Statuses after which a layer's bytes have all gone by
_DONE = {"Download complete", "Verifying Checksum", "Extracting", "Pull complete", "Pushed", "Layer already exists"}


class Layers:
    """Docker's progress messages folded into one state per layer and a total:
    `update(message)` takes a message, `changes()` what changed since it was last asked."""

    def __init__(self):
        self.layers, self.changed, self.status = {}, set(), ""

    def update(self, message):
        layer_id, status = message.get("id", ""), message.get("status", "")
        if not _LAYER_ID.fullmatch(layer_id):  # "Pulling from ...", "Digest: ...", "Status: ..."
            if status:
                self.status = f"{layer_id}: {status}" if layer_id else status
            return
        layer = self.layers.setdefault(layer_id, {"status": "", "current": 0, "total": 0})
        detail = message.get("progressDetail") or {}
        layer["status"] = status
        if status in ("Downloading", "Pushing") and detail.get("total"):
            layer["total"] = max(layer["total"], detail["total"])
            layer["current"] = min(detail.get("current", 0), layer["total"])
        elif status in _DONE:
            layer["current"] = layer["total"]
        self.changed.add(layer_id)

    def total(self):
        return [sum(x["current"] for x in self.layers.values()), sum(x["total"] for x in self.layers.values())]

    def changes(self):
        changed, self.changed = self.changed, set()
        return {"layers": {i: self.layers[i] for i in changed}, "total": self.total(), "status": self.status}


@contextmanager
def _login_hint(registry, auth):
    """A registry's refusal, with what to do about it in the console."""
    try:
        yield
    except RegistryLoginNeeded as exc:
        if auth is None:
            hint = "the registry asked for a login: add its credentials under Registries"
        else:
            hint = f"the registry refused the credentials stored for {registry}: check them under Registries"
        raise RegistryLoginNeeded(f"{hint} ({exc})") from None


class Transfer:
    """One pull or push on one host, opened (authorized, its entry started) by
    `open_pull` / `open_push`; read `updates()` in one thread, `cancel()` from any."""

    def __init__(self, verb, host, reference, action, progress, stream, hint):
        self.verb, self.host, self.reference, self.hint = verb, host, reference, hint
        self.action, self.progress, self.stream = action, progress, stream
        self.layers = Layers()
        self.completed = False  # Docker's stream came to its end (not cancelled)

    def updates(self):
        """Coalesced progress ({"layers", "total", "status"}), at most every
        COALESCE_SECONDS; the last one when the transfer ends."""
        sent = 0.0
        with self.hint():
            for message in self.stream.messages():
                self.layers.update(message)
                if (now := time.monotonic()) - sent >= COALESCE_SECONDS:
                    sent = now
                    yield self.layers.changes()
        self.completed = not self.stream.cancelled
        yield self.layers.changes()

    def end_notice(self):
        if not self.completed:
            return f"The {self.verb} of {self.reference} was cancelled."
        return f"{self.layers.status or self.verb.capitalize() + ' done'} on {self.host.name}."

    def cancel(self):
        """Stop the transfer from another thread (never blocks)."""
        if not self.completed:
            self.stream.cancel()

    def finish(self, note, failure=None):
        """Complete the audit entry: outcome, bytes that went by, how it ended."""
        self.stream.close()
        self.progress.size = self.layers.total()[1]
        self.progress.note = note[:4000]
        if failure is None and not self.completed:
            failure = WharfError(f"cancelled ({note})")
        if failure is None:
            self.action.__exit__(None, None, None)
        else:
            self.action.__exit__(type(failure), failure, failure.__traceback__)


def _open(verb, code, actor, host, text, start):
    authorize(actor, code, host=host, target=Target(id=text[:255], name=text[:255]))
    reference = Reference.parse(text)
    registry, auth = _credentials(reference)
    params = {"reference": str(reference), "registry": registry, "credentials": auth is not None}
    action = long_action(actor, code, host=host, target=Target(id=str(reference), name=str(reference)), params=params)
    progress = action.__enter__()
    hint = partial(_login_hint, registry, auth)
    try:
        with hint():
            stream = start(host, reference, auth)
    except BaseException as exc:
        action.__exit__(type(exc), exc, exc.__traceback__)
        raise
    return Transfer(verb, host, reference, action, progress, stream, hint)


def open_pull(*, actor, host, text):
    """Authorize and start `docker pull TEXT` on a host (one the actor may see: see
    `host_for`): a Transfer. Refusals are recorded and raised."""

    def start(host, reference, auth):
        return gateway.image_pull_stream(host, reference.repository, tag=reference.tag,
                                         digest=reference.digest, auth=auth)  # fmt: skip

    return _open("pull", "image.pull", actor, host, text, start)


def open_push(*, actor, host, text):
    """Authorize and start `docker push REPOSITORY:TAG` from a host: a Transfer."""

    def start(host, reference, auth):
        if reference.digest:
            raise InvalidInput("Push a tag (repository:tag), not a digest.", field="ref")
        gateway.image_inspect(host, str(reference))  # "no such image" in plain words
        return gateway.image_push_stream(host, reference.repository, reference.tag, auth=auth)

    return _open("push", "image.push", actor, host, text, start)


def transfer_all(transfer):
    """Run a transfer to its end in this thread (a command, a test): its updates."""
    updates, failure = [], None
    try:
        updates.extend(transfer.updates())
    except WharfError as exc:
        failure = exc
    transfer.finish(transfer.end_notice() if failure is None else str(failure), failure)
    if failure is not None:
        raise failure
    return updates
