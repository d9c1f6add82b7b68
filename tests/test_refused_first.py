"""Authorize first, everywhere: every POST view, sent by a logged-in user without a single
grant, is refused (403, or the 404 that stands for "absent") before anything is read from
Docker or written to the database, and the refusal is on the record. The views are found
by walking `console.urls`, so a new view is covered the day it is added."""

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from console import gateway
from console.audit.models import AuditEntry
from tests.harness import TEST_IMAGE
from tests.test_hostile_input import url_patterns

# Open to everyone logged in, whatever their grants: signing in and out, one's own password.
OPEN = {"login", "logout", "password_change", "password_change_done", "/"}

# Real names for the URL parameters: the refusal must not depend on the thing being absent.
PARAMS = {"name": "unix-1", "ref": "some-container", "pk": 1, "fmt": "csv"}

# What a user who could act would send: enough for each view to get on with it.
FORM = {
    "action": "stop", "c": ["unix-1/some-container"], "timeout": "1", "id": "abc",
    "name": "taken", "url": "unix:///x.sock", "enabled": "on", "pk": "1",
    "image": TEST_IMAGE, "command": "true", "mode": "detached", "network": "none",
    "repository": "fuzz", "tag": "latest", "path": "/tmp",
    "username": "someone", "password": "", "role": "1", "host": "", "permissions": ["container.view"],
}  # fmt: skip

WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE")


def post_views():
    views = [(view, params) for view, params in url_patterns() if view not in OPEN]
    assert any(view == "hosts:test-form" for view, _ in views), "the walk found no views"
    return views


@pytest.fixture
def docker_reads(monkeypatch):
    """Every way the gateway reaches a daemon, counted."""
    calls = []
    for name in ("call", "_client"):
        real = getattr(gateway, name)

        def spy(*args, _real=real, _name=name, **kwargs):
            calls.append(_name)
            return _real(*args, **kwargs)

        monkeypatch.setattr(gateway, name, spy)
    return calls


@pytest.mark.parametrize("view, params", post_views(), ids=lambda v: v if isinstance(v, str) else "")
def test_a_post_without_any_grant_is_refused_before_anything_happens(view, params, hosts, make_user, docker_reads):
    user = make_user("nobody")
    web = Client()
    web.force_login(user)
    url = reverse(view, kwargs={p: PARAMS[p] for p in params}) if ":" in view else view
    before = AuditEntry.objects.count()
    with CaptureQueriesContext(connection) as queries:
        response = web.post(url, FORM)
    if response.status_code == 405:  # a page that takes no POST: nothing to refuse
        assert not docker_reads
        return
    assert response.status_code in (403, 404), (url, response.status_code)
    assert docker_reads == [], url
    audit_table = AuditEntry._meta.db_table
    writes = [q["sql"] for q in queries if q["sql"].lstrip().split()[0].upper() in WRITES]
    assert writes and all(audit_table in sql for sql in writes), (url, writes)
    new = AuditEntry.objects.order_by("id")[before:]
    assert new and all(e.outcome == "denied" and e.actor_name == "nobody" for e in new), url
