from django.db import models

from console.errors import WharfError


class AuditQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise WharfError("audit entries cannot be changed")

    def delete(self):
        raise WharfError("audit entries cannot be deleted (use `manage.py audit purge`)")


class AuditEntry(models.Model):
    """One action by one actor. Written only by `console.audit.chain`.

    `hash` chains each entry to the previous one; `end_hash` seals the outcome of a
    long action written when it ends (and its `recording`, when it has one); both are keyed
    with the key `key_id` names. Rows cannot be changed or deleted through the application;
    `manage.py audit verify` finds rows, and recordings, changed behind its back.
    """

    STARTED, SUCCEEDED, FAILED, DENIED = "started", "succeeded", "failed", "denied"
    OUTCOMES = [(o, o) for o in (STARTED, SUCCEEDED, FAILED, DENIED)]

    time = models.DateTimeField(db_index=True)
    actor_id = models.IntegerField(null=True, blank=True)
    actor_name = models.CharField(max_length=150, db_index=True)
    source_ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=255, blank=True)
    request_id = models.CharField(max_length=64, blank=True, db_index=True)
    action = models.CharField(max_length=64, db_index=True)
    host_name = models.CharField(max_length=63, blank=True, db_index=True)
    target_type = models.CharField(max_length=32, blank=True)
    target_id = models.CharField(max_length=255, blank=True)
    target_name = models.CharField(max_length=255, blank=True)
    params = models.JSONField(default=dict, blank=True)
    outcome = models.CharField(max_length=16, choices=OUTCOMES, db_index=True)
    error = models.TextField(blank=True)
    duration_ms = models.IntegerField(null=True, blank=True)
    size_bytes = models.BigIntegerField(null=True, blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)
    end_hash = models.CharField(max_length=64, blank=True)
    key_id = models.CharField(max_length=16, blank=True)  # the audit key; empty before keying
    # A terminal session's recording: {file, sha256, bytes, cut}, sealed with the outcome.
    recording = models.JSONField(null=True, blank=True)

    objects = AuditQuerySet.as_manager()

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["action", "-id"]),
            models.Index(fields=["host_name", "-id"]),
            models.Index(fields=["actor_name", "-id"]),
            models.Index(fields=["outcome", "-id"]),
        ]
        verbose_name_plural = "audit entries"

    def __str__(self):
        return f"#{self.pk} {self.actor_name} {self.action} {self.outcome}"

    def save(self, *args, **kwargs):
        # Only a new entry is ever saved (chain.append); an existing one is never rewritten.
        if self.pk is not None and not kwargs.get("force_insert"):
            raise WharfError("audit entries cannot be changed")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise WharfError("audit entries cannot be deleted")
