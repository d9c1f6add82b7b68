"""The audit chain's keys: AUDIT_KEYS, newest first, kept outside the database.

Entries and anchors are sealed with HMAC-SHA256 under the newest key and name it by
its key id, an HMAC of a fixed text under the key: the id tells keys apart without
revealing anything about them. Older keys stay listed to verify what they sealed.
"""

import functools
import hashlib
import hmac
from dataclasses import dataclass, field

from django.conf import settings


@dataclass(frozen=True)
class Key:
    id: str
    rank: int  # 0 for the newest key; a higher rank is an older key
    secret: bytes = field(repr=False)

    def digest(self, text):
        return hmac.new(self.secret, text, hashlib.sha256).hexdigest()


def current():
    return next(iter(_ring(tuple(settings.AUDIT_KEYS)).values()))


def find(key_id):
    """The key with this id, or None."""
    return _ring(tuple(settings.AUDIT_KEYS)).get(key_id)


def count():
    return len(settings.AUDIT_KEYS)


@functools.cache
def _ring(secrets):
    """{key id: Key}, newest first."""
    ring = {}
    for rank, secret in enumerate(secrets):
        raw = secret.encode()
        key_id = hmac.new(raw, b"wharf audit key id", hashlib.sha256).hexdigest()[:16]
        ring[key_id] = Key(key_id, rank, raw)
    return ring
