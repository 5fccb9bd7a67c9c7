"""Random one-time tokens stored only as hashes, and HMAC-signed values for public links."""

from __future__ import annotations

import hashlib
import secrets

from itsdangerous import BadSignature, URLSafeSerializer


def new_token() -> str:
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def signer(secret_key: str, purpose: str) -> URLSafeSerializer:
    """A serializer whose signatures are valid only for one purpose."""
    return URLSafeSerializer(secret_key, salt=f"ignite:{purpose}")


def signed(secret_key: str, purpose: str, value: object) -> str:
    return signer(secret_key, purpose).dumps(value)


def unsigned(secret_key: str, purpose: str, token: str) -> object | None:
    """The value inside a signed token, or None when the signature is wrong."""
    try:
        return signer(secret_key, purpose).loads(token)
    except BadSignature:
        return None
