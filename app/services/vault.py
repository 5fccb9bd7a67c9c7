"""Secrets at rest (ESP credentials, DKIM private keys): Fernet-encrypted, never shown back in full.

The key comes from ENCRYPTION_KEY when set (a Fernet key), otherwise it is
derived from SECRET_KEY; rotating SECRET_KEY without ENCRYPTION_KEY makes
stored secrets unreadable, so production sets ENCRYPTION_KEY explicitly.
"""

from __future__ import annotations

import base64
import os
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from app.settings import get_settings


class VaultError(ValueError):
    """A stored secret could not be decrypted with the current key."""


@lru_cache(maxsize=1)
def _fernet() -> Fernet:
    explicit = os.environ.get("ENCRYPTION_KEY", "").strip()
    if explicit:
        return Fernet(explicit.encode())
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"ignite-vault", info=b"secrets-at-rest").derive(
        get_settings().security.secret_key.encode()
    )
    return Fernet(base64.urlsafe_b64encode(derived))


def encrypt(plaintext: str) -> str:
    return _fernet().encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise VaultError("This secret was stored with another key; enter it again.") from exc


# Only secrets at least this long show anything back; four characters of a short one would be too many.
LONG_SECRET = 16
DOTS = "••••••••"


def masked(secret: str, shown_to_admin: bool = False) -> str:
    """A sign that a secret is stored. An admin sees the last 4 characters of a long secret, to tell which
    one it is; a short secret, and anyone else, sees dots only (never its length)."""
    if shown_to_admin and len(secret) >= LONG_SECRET:
        return f"{DOTS}{secret[-4:]}"
    return DOTS
