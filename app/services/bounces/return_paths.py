"""VERP return paths: `bounces+<token>@<return-path domain>`, one per message, naming its delivery.

The local part before the `+` may be another (a server's bounce address `returns@…` gives
`returns+<token>@…`), so that a mailbox with `+` subaddressing receives every message's bounces.

A bounce goes to the envelope sender, so when each message carries its own, the address a report
arrives at says which delivery bounced, whatever the report's format. The token is
base32(varint workspace + varint delivery + tag), the tag a keyed BLAKE2b of 10 bytes (80 bits:
forging one means guessing that many bits per try at our MX, and a forged one could only mark a
delivery of the workspace it names). Base32 in lower case because some MTAs fold the case of the
addresses they report; a token is at most 39 characters, so `bounces+<token>` fits a 64-character local part.
Keys of `TRACKING_PREVIOUS_KEYS` still verify: bounces come back days after a send.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from functools import cache

from app.services.tracking.tokens import pack_varints, unpack_varints
from app.settings import Settings, get_settings

PREFIX = "bounces"
_TAG_BYTES = 10
_PURPOSE = b"return-path"
MAX_LOCAL_PART = 64
_TOKEN = re.compile(r"\+([a-z2-7]+)@", re.IGNORECASE)


@cache
def _keys(current: str, previous: tuple[str, ...]) -> tuple[bytes, ...]:
    return tuple(hashlib.sha256(f"ignite:return-path:{secret}".encode()).digest() for secret in (current, *previous))


def _settings_keys(settings: Settings) -> tuple[bytes, ...]:
    return _keys(settings.security.secret_key, settings.tracking.previous_keys)


def _tag(key: bytes, payload: bytes) -> bytes:
    return hashlib.blake2b(payload, key=key, person=_PURPOSE, digest_size=_TAG_BYTES).digest()


def return_path_token(settings: Settings, workspace_id: int, delivery_id: int) -> str:
    payload = pack_varints((workspace_id, delivery_id))
    raw = payload + _tag(_settings_keys(settings)[0], payload)
    return base64.b32encode(raw).rstrip(b"=").decode("ascii").lower()


def verp_address(settings: Settings, workspace_id: int, delivery_id: int, domain: str, local: str = PREFIX) -> str:
    """The envelope sender of one delivery's message: bounces to it name the delivery.

    ValueError when `local` leaves no room for the token in a 64-character local part."""
    local_part = f"{local}+{return_path_token(settings, workspace_id, delivery_id)}"
    if len(local_part) > MAX_LOCAL_PART or not local or "@" in local:
        raise ValueError(f"{local!r} leaves no room for a return path token")
    return f"{local_part}@{domain.lower()}"


def _raw(token: str) -> bytes | None:
    text = token.upper()
    try:
        raw = base64.b32decode(text + "=" * (-len(text) % 8))
    except ValueError:
        return None
    # Only the one spelling of these bytes is a token (no trailing bits set, no stray characters).
    return raw if base64.b32encode(raw).rstrip(b"=").decode("ascii") == text else None


def delivery_from_token(token: str, settings: Settings | None = None) -> tuple[int, int] | None:
    """(workspace id, delivery id) a token names, or None when it is forged, cut or from an unknown key."""
    raw = _raw(token)
    if raw is None or len(raw) <= _TAG_BYTES:
        return None
    payload, tag = raw[:-_TAG_BYTES], raw[-_TAG_BYTES:]
    ids = unpack_varints(payload, 2)
    keys = _settings_keys(settings or get_settings())
    if ids is None or not any(hmac.compare_digest(_tag(key, payload), tag) for key in keys):
        return None
    workspace_id, delivery_id = ids
    return workspace_id, delivery_id


def delivery_from_address(address: str, settings: Settings | None = None) -> tuple[int, int] | None:
    """(workspace id, delivery id) named by a VERP address (bare, in <>, or with a display name), or None."""
    found = _TOKEN.search(address or "")
    return delivery_from_token(found.group(1), settings) if found else None
