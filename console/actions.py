"""The action layer: everything a user can do (declared once in `console.catalog`) is
performed through `perform`, which authorizes, audits (succeeded, failed or denied) and
runs it.

Views, consumers and management commands call `perform` (or `stream` for long work);
none of them calls the gateway for a change or writes audit entries on its own.
"""

import time
from contextlib import contextmanager
from dataclasses import dataclass, field

from django.conf import settings

from console import addresses, gateway
from console.access import policy
from console.access.policy import carries_one  # noqa: F401 - for services filtering by a label scope
from console.audit import chain
from console.catalog import REGISTRY
from console.errors import ActionDenied, WharfError


@dataclass
class Actor:
    """Who acts, and from where: a user with request details, or the system (manage.py)."""

    user: object = None
    name: str = ""
    ip: str | None = None
    user_agent: str = ""
    request_id: str = ""
    system: bool = False

    @classmethod
    def from_request(cls, request):
        user = getattr(request, "user", None)
        user = user if user is not None and user.is_authenticated else None
        return cls(
            user=user,
            name=user.get_username() if user else "",
            ip=addresses.of_request(request),
            user_agent=request.META.get("HTTP_USER_AGENT", "")[:255],
            request_id=getattr(request, "id", ""),
        )

    @classmethod
    def from_scope(cls, scope, request_id=""):
        user = scope.get("user")
        user = user if user is not None and user.is_authenticated else None
        headers = dict(scope.get("headers", []))
        return cls(
            user=user,
            name=user.get_username() if user else "",
            ip=addresses.of_scope(scope),
            user_agent=headers.get(b"user-agent", b"").decode(errors="replace")[:255],
            request_id=request_id,
        )

    @classmethod
    def for_command(cls, command):
        return cls(name=f"system (manage.py {command})", system=True)


@dataclass
class Target:
    """What an action is done to. `labels` matter for label-scoped (container) grants."""

    id: str = ""
    name: str = ""
    labels: dict | None = None
    extra: dict = field(default_factory=dict)


def allows(actor, code, host=None, target=None):
    """May the actor do this? Fetches container labels only when a label grant needs them."""
    action = REGISTRY[code]
    if actor.system:
        return True
    if actor.user is None or not actor.user.is_active:
        return False
    target = target or Target()
    for needed in (action, *(REGISTRY[c] for c in action.requires)):
        if target.labels is None and policy.needs_labels(actor.user, needed, host):
            target.labels = gateway.container_labels(host, target.id)
        if not policy.permits(actor.user, needed, host, target.labels):
            return False
    return True


def visible_hosts(user):
    """The enabled hosts the user may see."""
    return policy.visible_hosts(user)


def label_scope(actor, code, host):
    """Which containers of this host the actor's grants cover for `code`: None for all of
    them, else the (key, value) label pairs a container must carry one of (empty: none)."""
    if actor.system:
        return None
    if actor.user is None:
        return []
    return policy.label_filter(actor.user, REGISTRY[code], host)


def require(actor, code, host=None, target=None):
    """Gate a page: a form that leads to an action, or a read that is an action itself.
    A refusal is recorded and raised; a read is recorded when AUDIT_READS asks."""
    entry = dict(actor=actor, action=REGISTRY[code], host=host, target=target or Target(), params={})
    _authorize(entry)
    if entry["action"].read:
        _record(entry, chain.SUCCEEDED)


def authorize(actor, code, *, host=None, target=None, params=None):
    """Refuse (and record the denial of) an action before its input is even read;
    an allowed action is recorded later by `perform`."""
    entry = dict(actor=actor, action=REGISTRY[code], host=host, target=target or Target(),
                 params=params or {})  # fmt: skip
    _authorize(entry)


def refuse(actor, code, *, host=None, target=None, reason):
    """Record the refusal of a request that never reached authorization (a websocket
    from a foreign Origin, a container that does not exist): denied, with the reason."""
    entry = dict(actor=actor, action=REGISTRY[code], host=host, target=target or Target(), params={})
    _record(entry, chain.DENIED, error=reason)


def perform(actor, code, *, run, host=None, target=None, params=None, check=None):
    """Authorize, run and audit one action; returns what `run()` returns.

    `check()`, called once the permission is granted, judges what the action would
    touch besides its target (a volume, an image tag): an ActionDenied it raises is
    recorded as a denial, and `run()` is not called."""
    action = REGISTRY[code]
    target = target or Target()
    entry = dict(actor=actor, action=action, host=host, target=target, params=params or {})
    _authorize(entry)
    started = time.monotonic()
    try:
        if check is not None:
            check()
        result = run()
    except ActionDenied as exc:
        _record(entry, chain.DENIED, error=str(exc))
        raise
    except WharfError as exc:
        _record(entry, chain.FAILED, error=str(exc), started=started)
        raise
    except Exception:
        _record(entry, chain.FAILED, error="internal error (see the server log)", started=started)
        raise
    _record(entry, chain.SUCCEEDED, started=started)
    return result


@dataclass
class Progress:
    """Handed to the body of a long action: add to `size` as bytes go by."""

    size: int = 0
    note: str = ""
    recording: object = None  # a terminals.recording.Recording, kept with the audit entry


@contextmanager
def long_action(actor, code, *, host=None, target=None, params=None):
    """A long action (a download, a terminal session): its entry is written when it
    starts and completed with outcome, duration and size when the block ends (with the
    session's recording, when the block put one in `progress.recording`)."""
    action = REGISTRY[code]
    target = target or Target()
    entry = dict(actor=actor, action=action, host=host, target=target, params=params or {})
    _authorize(entry)
    row = chain.append(**_row(entry), outcome=chain.STARTED)
    progress = Progress()
    started = time.monotonic()

    def end(outcome, note):
        chain.complete(row, outcome, note, _ms(started), progress.size, progress.recording)

    try:
        yield progress
    except WharfError as exc:
        end(chain.FAILED, str(exc))
        raise
    except BaseException as exc:
        end(chain.FAILED, progress.note or ("cancelled" if isinstance(exc, GeneratorExit) else "interrupted"))
        raise
    end(chain.SUCCEEDED, progress.note)


def record_event(actor, code, *, params=None, error=""):
    """Record something that happened (a login) without authorizing it."""
    entry = dict(actor=actor, action=REGISTRY[code], host=None, target=Target(), params=params or {})
    outcome = chain.FAILED if error else chain.SUCCEEDED
    chain.append(**_row(entry), outcome=outcome, error=error)


def _authorize(entry):
    actor, action, host, target = entry["actor"], entry["action"], entry["host"], entry["target"]
    if action.scope == "host" and host is not None and not host.enabled and not actor.system:
        _record(entry, chain.DENIED, error=f"host {host.name} is disabled")
        raise ActionDenied(f"Host {host.name} is disabled.")
    try:
        allowed = allows(actor, action.code, host, target)
    except WharfError as exc:  # e.g. labels could not be read: deny, and say why
        _record(entry, chain.DENIED, error=str(exc))
        raise
    if not allowed:
        where = ""
        if host is not None:
            where = f" ({host.name})" if action.target == "host" else f" on host {host.name}"
        message = f"You are not allowed to {action.label}{where}."
        _record(entry, chain.DENIED, error=message)
        raise ActionDenied(message)


def _record(entry, outcome, error="", started=None):
    if outcome == chain.SUCCEEDED and entry["action"].read and not _audit_reads():
        return
    duration = _ms(started) if started is not None else None
    chain.append(**_row(entry), outcome=outcome, error=error, duration_ms=duration)


def _row(entry):
    actor, action, host, target = entry["actor"], entry["action"], entry["host"], entry["target"]
    return dict(
        actor_id=actor.user.pk if actor.user else None,
        actor_name=actor.name,
        source_ip=actor.ip,
        user_agent=actor.user_agent,
        request_id=actor.request_id,
        action=action.code,
        host_name=host.name if host is not None else "",
        target_type=action.target,
        target_id=str(target.id)[:255],
        target_name=str(target.name)[:255],
        params=redact(action, entry["params"]),
    )


def redact(action, params):
    return {k: ("[redacted]" if k in action.secret and v else v) for k, v in params.items()}


def _audit_reads():
    return settings.AUDIT_READS


def _ms(started):
    return int((time.monotonic() - started) * 1000)
