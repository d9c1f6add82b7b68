import re

from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models

from console.crypto import EncryptedTextField
from console.gateway import SCHEMES

NAME_RE = r"^[a-z0-9][a-z0-9_.-]{0,62}$"


def validate_docker_url(url):
    if not url.startswith(SCHEMES):
        raise ValidationError(
            "The daemon URL must start with unix://, tcp:// or ssh:// "
            "(for example unix:///var/run/docker.sock or tcp://10.0.0.5:2376)."
        )
    rest = url.split("://", 1)[1]
    if not rest or (url.startswith("unix://") and not rest.startswith("/")):
        raise ValidationError("The daemon URL has no address after the scheme.")
    if url.startswith(("tcp://", "ssh://")) and not re.match(r"^[^/\s]+(:\d+)?/?$", rest):
        raise ValidationError("A tcp:// or ssh:// URL is host:port (ssh://user@host:port).")


class Host(models.Model):
    name = models.CharField(
        max_length=63,
        unique=True,
        help_text="Short name, lower case: letters, digits, dot, dash, underscore.",
        validators=[RegexValidator(NAME_RE, "Use lower-case letters, digits, '.', '-' or '_'.")],
    )
    url = models.CharField(
        "daemon URL", max_length=255, validators=[validate_docker_url],
        help_text="unix:///var/run/docker.sock, tcp://host:2376 or ssh://user@host",
    )
    description = models.CharField(max_length=255, blank=True)
    enabled = models.BooleanField(default=True)
    tls_ca = EncryptedTextField("TLS CA certificate", blank=True)
    tls_cert = EncryptedTextField("TLS client certificate", blank=True)
    tls_key = EncryptedTextField("TLS client key", blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    @classmethod
    def named(cls, name):
        """The host called `name`, or None; a name no host can have is not looked up."""
        return cls.objects.filter(name=name).first() if re.fullmatch(NAME_RE, name or "") else None

    @property
    def uses_tls(self):
        return bool(self.tls_ca or self.tls_cert)

    def clean(self):
        if self.url.startswith(("unix://", "ssh://")) and (self.tls_ca or self.tls_cert):
            raise ValidationError({"url": "TLS material applies to tcp:// hosts only."})
        validate_tls(self.tls_ca, self.tls_cert, self.tls_key)


def validate_tls(ca, cert, key):
    """PEM texts must parse, come in the right pairs, and the key must match the cert."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    errors = {}
    loaded_cert = None
    if ca:
        try:
            x509.load_pem_x509_certificates(ca.encode())
        except ValueError:
            errors["tls_ca"] = "This is not a PEM certificate (-----BEGIN CERTIFICATE-----)."
    if cert:
        try:
            loaded_cert = x509.load_pem_x509_certificate(cert.encode())
        except ValueError:
            errors["tls_cert"] = "This is not a PEM certificate (-----BEGIN CERTIFICATE-----)."
    if bool(cert) != bool(key):
        errors["tls_key" if cert else "tls_cert"] = "A client certificate and its key go together."
    elif key:
        try:
            loaded_key = serialization.load_pem_private_key(key.encode(), password=None)
        except (ValueError, TypeError):
            errors["tls_key"] = "This is not an unencrypted PEM private key."
        else:
            if loaded_cert is not None and not _same_key(loaded_cert, loaded_key):
                errors["tls_key"] = "This key does not belong to the client certificate."
    if errors:
        raise ValidationError(errors)


def _same_key(cert, key):
    from cryptography.hazmat.primitives import serialization

    fmt = serialization.PublicFormat.SubjectPublicKeyInfo
    enc = serialization.Encoding.DER
    return cert.public_key().public_bytes(enc, fmt) == key.public_key().public_bytes(enc, fmt)
