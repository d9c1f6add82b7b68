from django.apps import AppConfig


class WharfConfig(AppConfig):
    """The console as a whole: its system checks."""

    name = "console"
    label = "wharf"

    def ready(self):
        from console import checks  # noqa: F401 - registers the checks
