"""Secrets at rest: Fernet tokens, keys from settings.FERNET_KEYS (newest first)."""

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.db import models

from console.errors import WharfError


def _fernet():
    return MultiFernet([Fernet(k.encode()) for k in settings.FERNET_KEYS])


def encrypt(text: str) -> str:
    return _fernet().encrypt(text.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken:
        raise WharfError(
            "a stored secret cannot be decrypted with the configured keys "
            "(WHARF_FERNET_KEYS or data/fernet.key changed?)"
        ) from None


def rotate(token: str) -> str:
    return _fernet().rotate(token.encode()).decode()


class EncryptedTextField(models.TextField):
    """Holds text encrypted; Python code sees plain text, the database a token."""

    def from_db_value(self, value, expression, connection):
        return decrypt(value) if value else value

    def get_prep_value(self, value):
        return encrypt(value) if value else value
