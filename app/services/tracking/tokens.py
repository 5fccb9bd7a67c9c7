"""Delivery tokens: one compact, URL-safe, signed name of a delivery, put in every tracked URL of its message.

A token is base64url(payload + tag): the payload is five unsigned varints (workspace, campaign, snapshot
version, variant, delivery), about 12 bytes, and the tag is a keyed BLAKE2b of it, 16 bytes (128 bits,
as RFC 2104 asks of a truncated MAC). The key is derived from a secret and the tag is personalised by
purpose, so a token made for one purpose never verifies for another, and nothing signed elsewhere in the
app (itsdangerous tokens) is accepted here. Verifying needs no I/O: the hot path checks a token in about
a microsecond. Keys listed in TRACKING_PREVIOUS_KEYS still verify, so mail sent before a rotation of
SECRET_KEY keeps working; new tokens use the current key only.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from functools import cache

from app.settings import Settings

TAG_BYTES = 16
DELIVERY = b"delivery"
CLICK_URL = b"click-url"
_FIELDS = 5


@dataclass(frozen=True, slots=True)
class DeliveryRef:
    """What a token names: the delivery, and the campaign version whose links its message carries."""

    workspace_id: int
    campaign_id: int
    version: int
    variant: int
    delivery_id: int


@dataclass(frozen=True)
class TrackingKeys:
    """The current key first, then the previous ones; each already derived for tracking."""

    keys: tuple[bytes, ...]


@cache
def keys_from(current: str, previous: tuple[str, ...] = ()) -> TrackingKeys:
    return TrackingKeys(tuple(hashlib.sha256(f"ignite:tracking:{secret}".encode()).digest()
                              for secret in (current, *previous)))


def tracking_keys(settings: Settings) -> TrackingKeys:
    return keys_from(settings.security.secret_key, settings.tracking.previous_keys)


def _tag(key: bytes, purpose: bytes, data: bytes) -> bytes:
    return hashlib.blake2b(data, key=key, person=purpose, digest_size=TAG_BYTES).digest()


def pack_varints(values: tuple[int, ...]) -> bytes:
    """Non-negative integers as LEB128 varints: small ids take a byte or two."""
    out = bytearray()
    for value in values:
        if value < 0:
            raise ValueError("token fields are never negative")
        while value > 0x7F:
            out.append((value & 0x7F) | 0x80)
            value >>= 7
        out.append(value)
    return bytes(out)


def unpack_varints(data: bytes, count: int) -> tuple[int, ...] | None:
    """Exactly `count` varints filling `data`, or None."""
    values: list[int] = []
    value = shift = 0
    for byte in data:
        value |= (byte & 0x7F) << shift
        if byte & 0x80:
            shift += 7
            if shift > 63:
                return None
            continue
        values.append(value)
        value = shift = 0
    return tuple(values) if len(values) == count and not shift else None


def _encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _decode(text: str) -> bytes | None:
    """The bytes of canonical unpadded base64url text, or None (a changed character, a stray one, padding)."""
    if not text.isascii() or len(text) % 4 == 1:
        return None
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except ValueError:
        return None
    # b64decode skips characters outside the alphabet: only the one spelling of these bytes is a token.
    return raw if _encode(raw) == text else None


def delivery_token(keys: TrackingKeys, ref: DeliveryRef) -> str:
    payload = pack_varints((ref.workspace_id, ref.campaign_id, ref.version, ref.variant, ref.delivery_id))
    return _encode(payload + _tag(keys.keys[0], DELIVERY, payload))


def _verified(keys: TrackingKeys, purpose: bytes, data: bytes, tag: bytes) -> bool:
    return any(hmac.compare_digest(_tag(key, purpose, data), tag) for key in keys.keys)


def delivery_ref(keys: TrackingKeys, token: str) -> DeliveryRef | None:
    """The delivery a token names, or None when it is forged, cut short, or signed for something else."""
    raw = _decode(token)
    if raw is None or len(raw) <= TAG_BYTES:
        return None
    payload, tag = raw[:-TAG_BYTES], raw[-TAG_BYTES:]
    values = unpack_varints(payload, _FIELDS)
    if values is None or not _verified(keys, DELIVERY, payload, tag):
        return None
    return DeliveryRef(*values)


def url_signature(keys: TrackingKeys, token: str, index: int, url: str) -> str:
    """Binds a URL made per recipient to the token and link it was made for: /c/ redirects only there."""
    return _encode(_tag(keys.keys[0], CLICK_URL, f"{token}\n{index}\n{url}".encode()))


def url_is_signed(keys: TrackingKeys, token: str, index: int, url: str, signature: str) -> bool:
    raw = _decode(signature)
    if raw is None:
        return False
    data = f"{token}\n{index}\n{url}".encode()
    return _verified(keys, CLICK_URL, data, raw)
