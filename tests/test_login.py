"""Login hardening: throttling by (username, address) and by address, the client address
behind trusted proxies, failed logins audited within a budget, validators, security
headers, changing one's own password."""

import io
import re
import urllib.request
from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.conf import settings as settings_module
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from console.access import logins
from console.actions import Actor
from console.addresses import client_address
from console.audit.models import AuditEntry
from tests.conftest import PASSWORD


def test_lockout_after_repeated_failures(client, make_user, settings):
    make_user("alice")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post("/accounts/login/", {"username": "alice", "password": "wrong"})
    response = client.post("/accounts/login/", {"username": "alice", "password": PASSWORD})
    assert response.status_code == 429 and "Too many failed logins" in response.content.decode()
    assert "_auth_user_id" not in client.session
    failed = AuditEntry.objects.filter(action="auth.login_failed", actor_name="alice").order_by("id")
    errors = list(failed.values_list("error", flat=True))
    limit = settings.AXES_FAILURE_LIMIT  # the last failure locks the account, the next is refused
    assert errors == ["wrong username or password"] * (limit - 1) + ["locked out after repeated failed logins"] * 2
    assert not AuditEntry.objects.filter(action="auth.login").exists()


def test_password_validators_refuse_weak_passwords():
    for weak in ("password", "12345678", "short"):
        with pytest.raises(ValidationError):
            validate_password(weak)


def test_pages_send_security_headers(admin_client):
    response = admin_client.get("/hosts/")
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Request-Id"]


# --- throttling by (username, address) and by address, the real client address ---


def _login(client, username, password, address, forwarded_for=None):
    extra = {"REMOTE_ADDR": address}
    if forwarded_for is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded_for
    return client.post("/accounts/login/", {"username": username, "password": password}, **extra)


def _fail(client, times, username="alice", address="10.0.0.1", **kwargs):
    for _ in range(times):
        assert _login(client, username, "wrong", address, **kwargs).status_code in (200, 429)


def test_a_locked_address_does_not_lock_the_account_elsewhere(client, make_user, settings):
    make_user("alice")
    _fail(client, settings.AXES_FAILURE_LIMIT)
    assert _login(client, "alice", PASSWORD, "10.0.0.1").status_code == 429  # guessing from A stays locked
    assert _login(client, "alice", "wrong", "10.0.0.1").status_code == 429
    assert _login(client, "alice", PASSWORD, "10.0.0.2").status_code == 302  # the right password from B
    assert AuditEntry.objects.get(action="auth.login").source_ip == "10.0.0.2"


def test_tries_during_a_lockout_do_not_extend_it(client, make_user, settings):
    make_user("alice")
    _fail(client, settings.AXES_FAILURE_LIMIT)
    locked_at = AccessAttempt.objects.get(username="alice").attempt_time
    _fail(client, 3)
    attempt = AccessAttempt.objects.get(username="alice")
    assert (attempt.attempt_time, attempt.failures_since_start) == (locked_at, settings.AXES_FAILURE_LIMIT)


def test_an_address_guessing_many_usernames_is_paused(client, make_user, settings):
    settings.LOGIN_ADDRESS_FAILURE_LIMIT = 6
    make_user("alice")
    for i in range(6):
        _login(client, f"guess{i}", "wrong", "10.0.0.1")
    response = _login(client, "alice", PASSWORD, "10.0.0.1")
    assert response.status_code == 429 and "paused" in response.content.decode()
    assert _login(client, "alice", PASSWORD, "10.0.0.2").status_code == 302


def test_forwarded_for_from_an_untrusted_peer_is_ignored(client, make_user, settings):
    settings.TRUSTED_PROXIES = []
    make_user("alice")
    for i in range(settings.AXES_FAILURE_LIMIT):
        _login(client, "alice", "wrong", "10.0.0.1", forwarded_for=f"198.51.100.{i}")
    assert _login(client, "alice", PASSWORD, "10.0.0.1", forwarded_for="198.51.100.99").status_code == 429
    ips = set(AuditEntry.objects.filter(action="auth.login_failed").values_list("source_ip", flat=True))
    assert ips == {"10.0.0.1"}


def test_behind_a_trusted_proxy_the_real_address_counts(client, make_user, settings):
    settings.TRUSTED_PROXIES = ["127.0.0.0/8"]
    make_user("alice")
    # The client wrote the left hop itself; the proxy appended the address it saw.
    _fail(client, settings.AXES_FAILURE_LIMIT, address="127.0.0.1", forwarded_for="6.6.6.6, 203.0.113.7")
    assert _login(client, "alice", PASSWORD, "127.0.0.1", forwarded_for="203.0.113.7").status_code == 429
    assert _login(client, "alice", PASSWORD, "127.0.0.1", forwarded_for="203.0.113.8").status_code == 302
    failed = set(AuditEntry.objects.filter(action="auth.login_failed").values_list("source_ip", flat=True))
    assert failed == {"203.0.113.7"}
    assert AuditEntry.objects.get(action="auth.login").source_ip == "203.0.113.8"


@pytest.mark.parametrize(
    "peer, forwarded, expected",
    [
        ("10.0.0.5", "1.2.3.4", "10.0.0.5"),  # untrusted peer: its header is ignored
        ("127.0.0.1", "1.2.3.4", "1.2.3.4"),
        ("127.0.0.1", "1.2.3.4, 127.0.0.2", "1.2.3.4"),  # two trusted proxies
        ("127.0.0.1", "127.0.0.9, 5.6.7.8, 1.2.3.4", "1.2.3.4"),  # stops at the first untrusted hop
        ("127.0.0.1", "not-an-address", "127.0.0.1"),
        ("127.0.0.1", "", "127.0.0.1"),
        ("::1", "2001:db8::1", "2001:db8::1"),
    ],
)
def test_client_address(settings, peer, forwarded, expected):
    settings.TRUSTED_PROXIES = ["127.0.0.0/8", "::1"]
    assert client_address(peer, forwarded) == expected


def test_websocket_actor_uses_the_real_address(settings):
    settings.TRUSTED_PROXIES = ["127.0.0.1"]
    scope = {"client": ("127.0.0.1", 5000), "headers": [(b"x-forwarded-for", b"6.6.6.6, 203.0.113.7")]}
    assert Actor.from_scope(scope).ip == "203.0.113.7"
    settings.TRUSTED_PROXIES = []
    assert Actor.from_scope(scope).ip == "127.0.0.1"


# --- failed logins on the audit trail: bounded, still countable ---


def _failed_logins():
    rows = AuditEntry.objects.filter(action__in=["auth.login_failed", "auth.login_failed_summary"])
    summaries = [e.params["failures"] for e in rows if e.action == "auth.login_failed_summary"]
    return rows.count(), rows.filter(action="auth.login_failed").count() + sum(summaries)


def _end_the_window(settings):
    logins.flush(before=timezone.now() + timedelta(seconds=settings.LOGIN_AUDIT_WINDOW))


def test_a_flood_of_failed_logins_is_counted_in_bounded_rows(client, make_user, settings):
    settings.LOGIN_AUDIT_PER_ADDRESS = 10  # a flood 20 times the budget (as 1000 are to the default 50)
    for i in range(200):
        _login(client, f"user{i % 100}", "wrong", "10.0.0.1")
    budget = settings.LOGIN_AUDIT_PER_ADDRESS
    rows, _ = _failed_logins()
    assert rows <= 2 * budget  # (the flood may straddle two windows)
    _end_the_window(settings)
    rows, failures = _failed_logins()
    assert rows <= 2 * (budget + 1) and failures == 200
    summary = AuditEntry.objects.filter(action="auth.login_failed_summary").first()
    assert summary.source_ip == "10.0.0.1" and summary.outcome == "failed"
    assert summary.params["address"] == "10.0.0.1"
    assert len(summary.params["usernames_sample"]) == logins.USERNAME_SAMPLE
    # Another address has a budget of its own.
    _login(client, "alice", "wrong", "10.0.0.2")
    assert AuditEntry.objects.filter(action="auth.login_failed", source_ip="10.0.0.2").count() == 1


def test_failed_logins_of_one_pair_beyond_its_budget_are_counted(client, db, settings):
    settings.LOGIN_AUDIT_PER_PAIR = 3
    for _ in range(5):
        _login(client, "alice", "wrong", "10.0.0.3")
    _login(client, "bob", "wrong", "10.0.0.3")
    recorded = AuditEntry.objects.filter(action="auth.login_failed")
    assert sorted(recorded.values_list("actor_name", flat=True)) == ["alice"] * 3 + ["bob"]
    _end_the_window(settings)
    assert _failed_logins()[1] == 6
    summary = AuditEntry.objects.get(action="auth.login_failed_summary")
    assert summary.params["usernames_sample"] == ["alice"]


def test_an_ipv6_client_has_one_budget_for_its_64(client, db, settings):
    settings.LOGIN_AUDIT_PER_ADDRESS = 2
    for i in range(1, 4):
        _login(client, f"user{i}", "wrong", f"2001:db8:1:2::{i}")
    _login(client, "user4", "wrong", "2001:db8:1:3::1")  # another /64
    recorded = AuditEntry.objects.filter(action="auth.login_failed")
    assert sorted(recorded.values_list("actor_name", flat=True)) == ["user1", "user2", "user4"]
    _end_the_window(settings)
    summary = AuditEntry.objects.get(action="auth.login_failed_summary")
    assert summary.params["address"] == "2001:db8:1:2::/64" and summary.params["failures"] == 1


# --- headers: Content-Security-Policy, no-store ---


def test_csp_on_every_page_and_no_store_when_logged_in(transactional_db, admin_client, live_server_url):
    page = admin_client.get("/hosts/")
    csp = page["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "style-src 'self'" in csp and "unsafe" not in csp
    assert "no-store" in page["Cache-Control"]
    assert Client().get("/accounts/login/")["Content-Security-Policy"] == csp  # logged out too
    # Through daphne, as in production: a logged-in user's page is no-store, the static
    # files it uses stay cacheable.
    cookie = {"Cookie": f"sessionid={admin_client.cookies['sessionid'].value}"}
    with urllib.request.urlopen(urllib.request.Request(live_server_url + "/hosts/", headers=cookie), timeout=30) as page:
        assert page.status == 200 and "no-store" in page.headers["Cache-Control"]
    with urllib.request.urlopen(urllib.request.Request(live_server_url + "/static/css/wharf.css", headers=cookie), timeout=30) as static:
        assert static.status == 200 and static.read().strip()
        assert "no-store" not in static.headers.get("Cache-Control", "")
        assert static.headers["X-Content-Type-Options"] == "nosniff"


INLINE = re.compile(r"<script(?![^>]*\bsrc=)|\son[a-z]+\s*=|\sstyle\s*=|javascript:|hx-on", re.IGNORECASE)


def test_templates_have_no_inline_script_handler_or_style():
    """What the Content-Security-Policy would refuse in the browser, found in the source."""
    found = [
        f"{path.relative_to(settings_module.BASE_DIR)}: {match.group(0).strip()}"
        for path in sorted((settings_module.BASE_DIR / "templates").rglob("*.html"))
        for match in INLINE.finditer(path.read_text())
    ]
    assert found == []


# --- changing one's own password ---

NEW = "a brand new passphrase 5521"


def _change(client, old, new1, new2=None):
    data = {"old_password": old, "new_password1": new1, "new_password2": new2 or new1}
    return client.post("/accounts/password_change/", data)


def test_change_password_link_and_page(client, make_user):
    client.force_login(make_user("carol", role="Viewer"))
    page = client.get("/hosts/").content.decode()
    assert 'href="/accounts/password_change/"' in page and "Change password" in page
    form = client.get("/accounts/password_change/").content.decode()
    assert "Old password" in form and "at least 8 characters" in form


def test_change_password_checks_the_current_one_and_the_rules(client, make_user):
    carol = make_user("carol")
    client.force_login(carol)
    assert "Your old password was entered incorrectly" in _change(client, "wrong", NEW).content.decode()
    assert "too common" in _change(client, PASSWORD, "password").content.decode()
    carol.refresh_from_db()
    assert carol.check_password(PASSWORD)
    changes = AuditEntry.objects.filter(action="auth.password_change")
    assert list(changes.values_list("outcome", "error")) == [
        ("failed", "the new password was refused: This password is too common.")
    ]
    # A wrong current password is a failed login: recorded and throttled as one.
    assert AuditEntry.objects.get(action="auth.login_failed").actor_name == "carol"


def test_guessing_the_current_password_is_throttled(client, make_user, settings):
    carol = make_user("carol")
    client.force_login(carol)
    for _ in range(settings.AXES_FAILURE_LIMIT):
        _change(client, "wrong", NEW)
    assert _change(client, PASSWORD, NEW).status_code == 429
    carol.refresh_from_db()
    assert carol.check_password(PASSWORD)


def test_change_password_keeps_the_session_and_is_recorded(client, make_user):
    carol = make_user("carol")
    client.force_login(carol)
    response = _change(client, PASSWORD, NEW)
    assert response.status_code == 302 and response["Location"] == "/accounts/password_change/done/"
    carol.refresh_from_db()
    assert carol.check_password(NEW)
    assert client.get("/accounts/password_change/done/").status_code == 200  # still logged in
    entry = AuditEntry.objects.get(action="auth.password_change")
    assert (entry.actor_name, entry.outcome, entry.target_type) == ("carol", "succeeded", "user")
    assert NEW not in str(entry.params) + entry.error and PASSWORD not in str(entry.params) + entry.error


def test_change_password_needs_a_login(client, db):
    response = client.get("/accounts/password_change/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_setup_points_to_the_change_password_page(db, monkeypatch, tmp_path):
    from console.hosts.management.commands import setup

    monkeypatch.delenv("DOCKER_HOST", raising=False)
    monkeypatch.delenv("WHARF_ADMIN_PASSWORD", raising=False)
    monkeypatch.setattr(setup, "LOCAL_SOCKET", tmp_path / "no-docker.sock")
    out = io.StringIO()
    call_command("setup", stdout=out)
    assert "/accounts/password_change/" in out.getvalue()
