from django.conf import settings
from django.contrib.auth.models import Group
from django.db import models

from console.access.roles import role_codes
from console.hosts.models import Host


class Role(models.Model):
    """A named set of action permissions. Built-in roles take theirs from code
    (`console.access.roles`), so actions added later reach them automatically."""

    name = models.CharField(max_length=64, unique=True)
    description = models.CharField(max_length=255, blank=True)
    builtin = models.BooleanField(default=False, editable=False)
    permissions = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-builtin", "name"]

    def __str__(self):
        return self.name

    def codes(self):
        return role_codes(self)


class Grant(models.Model):
    """A role for a user or a group, on all hosts or one, optionally only for
    containers carrying the label `label_key=label_value`."""

    role = models.ForeignKey(Role, on_delete=models.CASCADE, related_name="grants")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE,
        related_name="wharf_grants",
    )  # fmt: skip
    group = models.ForeignKey(
        Group, null=True, blank=True, on_delete=models.CASCADE, related_name="wharf_grants"
    )
    host = models.ForeignKey(
        Host, null=True, blank=True, on_delete=models.CASCADE, related_name="grants",
        help_text="Empty: every host.",
    )  # fmt: skip
    label_key = models.CharField(max_length=255, blank=True)
    label_value = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(user__isnull=False, group__isnull=True)
                | models.Q(user__isnull=True, group__isnull=False),
                name="grant_user_xor_group",
            ),
        ]

    def __str__(self):
        return f"{self.role} to {self.holder} on {self.where}"

    @property
    def holder(self):
        return f"user {self.user}" if self.user_id else f"group {self.group}"

    @property
    def where(self):
        where = f"host {self.host}" if self.host_id else "all hosts"
        if self.label_key:
            where += f", containers labelled {self.label_key}={self.label_value}"
        return where


class LoginFailureTally(models.Model):
    """Failed logins from one address (an IPv6 /64) in one window, for the audit trail:
    the first ones are recorded one by one, the rest only counted here and written as
    one summary entry when the window has ended (console/access/logins.py)."""

    address = models.CharField(max_length=64, blank=True)
    window_start = models.DateTimeField(db_index=True)
    recorded = models.PositiveIntegerField(default=0)
    counted = models.PositiveIntegerField(default=0)
    usernames = models.JSONField(default=list, blank=True)  # a sample, for the summary

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["address", "window_start"], name="one_tally_per_window"),
        ]

    def __str__(self):
        return f"{self.address or 'unknown'} from {self.window_start}: {self.recorded} + {self.counted}"
