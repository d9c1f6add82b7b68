"""Logins: throttling guesses without locking anyone out, and auditing failures so
that a flood cannot fill the disk.

Throttling (django-axes, settings AXES_*): a (username, address) pair is locked after
`AXES_FAILURE_LIMIT` failures, an address after `LOGIN_ADDRESS_FAILURE_LIMIT` failures
whatever the usernames. Never a username alone: whoever knows the password still gets
in from another address. A lockout runs from the failure that caused it; tries during
it do not extend it. The address is the client's real one (console/addresses.py).

Auditing: in each window of `LOGIN_AUDIT_WINDOW` seconds, the first
`LOGIN_AUDIT_PER_PAIR` failures of a (username, address) pair and at most
`LOGIN_AUDIT_PER_ADDRESS` failures of an address are recorded one by one; the others
are counted in a `LoginFailureTally` and written as one `auth.login_failed_summary`
entry (with the count) at the first login event after the window ends. The number of
failed logins is the `auth.login_failed` entries plus the summaries' `failures`.
"""

import ipaddress
from datetime import timedelta

from axes.attempts import get_cool_off_threshold
from axes.handlers.database import AxesDatabaseHandler
from axes.models import AccessAttempt
from django.conf import settings
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from console import addresses
from console.access.models import LoginFailureTally
from console.actions import Actor, record_event
from console.audit.models import AuditEntry

USERNAME_SAMPLE = 10


class LoginThrottle(AxesDatabaseHandler):
    """Axes' (username, address) lockout, plus a looser limit per address."""

    def is_locked(self, request, credentials=None):
        return super().is_locked(request, credentials) or (
            address_failures(addresses.of_request(request), request) >= settings.LOGIN_ADDRESS_FAILURE_LIMIT
        )


def address_failures(address, request=None):
    """Recent failures from this address, for any usernames."""
    recent = AccessAttempt.objects.filter(
        ip_address=address, attempt_time__gte=get_cool_off_threshold(request)
    )
    return recent.aggregate(n=Sum("failures_since_start"))["n"] or 0


def _window_start(now):
    seconds = settings.LOGIN_AUDIT_WINDOW
    return now - timedelta(seconds=now.timestamp() % seconds)


def _budget_key(ip):
    """The address a budget is kept for: an IPv6 client easily has a whole /64."""
    try:
        address = ipaddress.ip_address(ip or "")
    except ValueError:
        return ""
    if address.version == 6:
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


def record_failure(actor, error):
    """Record a failed login (or count it, when its address is over the budget)."""
    start = _window_start(timezone.now())
    with transaction.atomic():
        flush(before=start)
        tally, _ = LoginFailureTally.objects.select_for_update().get_or_create(
            address=_budget_key(actor.ip), window_start=start
        )
        if (
            tally.recorded < settings.LOGIN_AUDIT_PER_ADDRESS
            and _pair_recorded(actor, start) < settings.LOGIN_AUDIT_PER_PAIR
        ):
            tally.recorded += 1
            record_event(actor, "auth.login_failed", error=error)
        else:
            tally.counted += 1
            if actor.name not in tally.usernames and len(tally.usernames) < USERNAME_SAMPLE:
                tally.usernames.append(actor.name)
        tally.save()


def _pair_recorded(actor, start):
    return AuditEntry.objects.filter(
        action="auth.login_failed", actor_name=actor.name, source_ip=actor.ip or None, time__gte=start
    ).count()


def flush(before=None):
    """Write the summaries of the windows that started before `before` (default: now's)."""
    before = before or _window_start(timezone.now())
    window = timedelta(seconds=settings.LOGIN_AUDIT_WINDOW)
    with transaction.atomic():
        for tally in LoginFailureTally.objects.select_for_update().filter(window_start__lt=before):
            if tally.counted:
                params = {
                    "failures": tally.counted, "address": tally.address or "unknown",
                    "from": tally.window_start.isoformat(), "to": (tally.window_start + window).isoformat(),
                    "usernames_sample": tally.usernames,
                }  # fmt: skip
                actor = Actor(ip=tally.address if "/" not in tally.address else None)
                record_event(
                    actor, "auth.login_failed_summary", params=params,
                    error=f"{tally.counted} more failed logins, over the audit limit",
                )  # fmt: skip
            tally.delete()
