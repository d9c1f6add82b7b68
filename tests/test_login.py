"""Login hardening: lockout after repeated failures, validators, secure settings."""

import pytest
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError

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
