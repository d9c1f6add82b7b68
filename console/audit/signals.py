"""Logins, logouts and failed logins go on the record through the action layer (failed
logins within a budget per address: console/access/logins.py)."""

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from console.access import logins
from console.actions import Actor, record_event


@receiver(user_logged_in)
def _logged_in(sender, request, user, **kwargs):
    actor = Actor.from_request(request)
    actor.user, actor.name = user, user.get_username()
    record_event(actor, "auth.login")
    logins.flush()


@receiver(user_logged_out)
def _logged_out(sender, request, user, **kwargs):
    if request is not None and user is not None:
        actor = Actor.from_request(request)
        actor.user, actor.name = user, user.get_username()
        record_event(actor, "auth.logout")


@receiver(user_login_failed)
def _login_failed(sender, credentials, request=None, **kwargs):
    actor = Actor.from_request(request) if request is not None else Actor()
    actor.name = str(credentials.get("username", ""))[:150]
    locked = getattr(request, "axes_locked_out", False)
    error = "locked out after repeated failed logins" if locked else "wrong username or password"
    logins.record_failure(actor, error)
