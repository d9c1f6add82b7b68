import re

from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models

from console.crypto import EncryptedTextField
from console.hosts.models import NAME_RE

HUB, V2 = "hub", "v2"
HUB_AUTH_ADDRESS = "https://index.docker.io/v1/"  # what `docker login` sends for Docker Hub
ADDRESS_RE = re.compile(r"^[a-zA-Z0-9.-]+(?::\d{1,5})?$")


class Registry(models.Model):
    """A registry the console knows, with the credentials it lends to those allowed to
    use it. The password (or token) is encrypted at rest and never shown again."""

    KINDS = [(HUB, "Docker Hub"), (V2, "Registry (HTTP API v2)")]

    name = models.CharField(
        max_length=63, unique=True,
        validators=[RegexValidator(NAME_RE, "Use lower-case letters, digits, '.', '-' or '_'.")],
    )  # fmt: skip
    kind = models.CharField(max_length=8, choices=KINDS, default=V2)
    address = models.CharField(
        max_length=255, blank=True,
        help_text="host[:port] as image references name it, e.g. registry.example.com:5000 (not for Docker Hub)",
    )  # fmt: skip
    plain_http = models.BooleanField(
        "plain HTTP", default=False, help_text="The registry speaks HTTP, not HTTPS (a local test registry)."
    )
    username = models.CharField(max_length=255, blank=True)
    password = EncryptedTextField("password or token", blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "registries"

    def __str__(self):
        return self.name

    @property
    def is_hub(self):
        return self.kind == HUB

    @property
    def login_address(self):
        """The server address `docker login` (the Engine's /auth) is given."""
        return HUB_AUTH_ADDRESS if self.is_hub else self.address

    @property
    def base_url(self):
        return f"{'http' if self.plain_http else 'https'}://{self.address}"

    def clean(self):
        if self.kind == V2 and not ADDRESS_RE.match(self.address or ""):
            raise ValidationError({"address": "Give host[:port], e.g. registry.example.com or 127.0.0.1:5000."})
        if self.kind == HUB:
            self.address, self.plain_http = "docker.io", False
        if bool(self.password) and not self.username:
            raise ValidationError({"username": "A password needs a username."})
