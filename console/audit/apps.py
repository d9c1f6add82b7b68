from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "console.audit"

    def ready(self):
        from console.audit import signals  # noqa: F401 - login/logout events
