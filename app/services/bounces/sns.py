"""Amazon SNS messages (how SES sends bounce, complaint and delivery notifications), verified.

Every SNS message is signed with the private key of a certificate Amazon publishes at
`SigningCertURL`; the signature covers the message's fields in a fixed order (SignatureVersion 1:
RSA with SHA-1, 2: with SHA-256). Only certificates served over HTTPS from an
`sns.<region>.amazonaws.com` host are fetched, so a message cannot bring its own certificate; with
SNS_CERTIFICATE_FILE set the certificate is read from that file instead (tests). A subscription is
confirmed by requesting its SubscribeURL, also only on an SNS host. Replays are refused by the
caller: a message's MessageId is stored once (intake's unique source_ref).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import re
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from app.settings import WebhookSettings

_SNS_HOST = re.compile(r"sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?")
_NOTIFICATION_FIELDS = ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type")
_SUBSCRIPTION_FIELDS = ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type")
SIGNED_FIELDS = {
    "Notification": _NOTIFICATION_FIELDS,
    "SubscriptionConfirmation": _SUBSCRIPTION_FIELDS,
    "UnsubscribeConfirmation": _SUBSCRIPTION_FIELDS,
}
_HASHES = {"1": hashes.SHA1, "2": hashes.SHA256}
# A retry keeps its Timestamp, and the longest delivery policies retry for days; anything older is refused,
# so a captured message cannot be replayed once its MessageId is long forgotten.
MAX_AGE = timedelta(days=7)
FETCH_TIMEOUT = 10.0


class SnsRefused(ValueError):
    """A message that is not a genuine, current SNS message; the text says why."""


def parsed(body: bytes) -> dict[str, str]:
    """The SNS message in a request body (JSON, whatever its Content-Type says)."""
    try:
        message = json.loads(body)
    except ValueError as exc:
        raise SnsRefused("The body is not JSON.") from exc
    if not isinstance(message, dict) or message.get("Type") not in SIGNED_FIELDS:
        raise SnsRefused("This is not an SNS message.")
    if not all(isinstance(message.get(name, ""), str) for name in SIGNED_FIELDS[message["Type"]]):
        raise SnsRefused("A signed field of the message is not text.")
    return message


def string_to_sign(message: dict[str, str]) -> bytes:
    """The fields SNS signed, as `name\\nvalue\\n` in its fixed order; Subject only when present."""
    return "".join(f"{name}\n{message[name]}\n" for name in SIGNED_FIELDS[message["Type"]]
                   if name in message).encode()


def is_sns_url(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme == "https" and bool(_SNS_HOST.fullmatch(parts.hostname or "")) and not parts.username


def _timestamp(message: dict[str, str]) -> datetime:
    try:
        stamp = datetime.fromisoformat(message.get("Timestamp", "").replace("Z", "+00:00"))
    except ValueError as exc:
        raise SnsRefused("The message's Timestamp is not a time.") from exc
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)


@lru_cache(maxsize=32)
def _key_from_pem(pem: bytes) -> rsa.RSAPublicKey:
    key = x509.load_pem_x509_certificate(pem).public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        raise SnsRefused("The signing certificate holds no RSA key.")
    return key


async def _certificate(url: str, settings: WebhookSettings) -> bytes:
    if settings.sns_certificate_file:
        return await asyncio.to_thread(Path(settings.sns_certificate_file).read_bytes)
    return await _fetched_certificate(url)


_certificates: dict[str, bytes] = {}


async def _fetched_certificate(url: str) -> bytes:
    """Amazon's certificate at `url`, fetched once per process (they change about yearly, at new URLs)."""
    if url not in _certificates:
        async with httpx.AsyncClient(timeout=FETCH_TIMEOUT) as client:
            response = await client.get(url)
        if response.status_code != 200:
            raise SnsRefused(f"The signing certificate could not be fetched ({response.status_code}).")
        _certificates[url] = response.content
    return _certificates[url]


async def verify(message: dict[str, str], settings: WebhookSettings, now: datetime | None = None) -> None:
    """Returns when the message is signed by SNS and current; raises SnsRefused otherwise."""
    algorithm = _HASHES.get(message.get("SignatureVersion", ""))
    if algorithm is None:
        raise SnsRefused("Unknown SignatureVersion.")
    url = message.get("SigningCertURL", "")
    if not is_sns_url(url) or not urlsplit(url).path.endswith(".pem"):
        raise SnsRefused("The signing certificate is not on an SNS host.")
    if (now or datetime.now(UTC)) - _timestamp(message) > MAX_AGE:
        raise SnsRefused("The message is too old.")
    try:
        signature = base64.b64decode(message.get("Signature", ""), validate=True)
        key = _key_from_pem(await _certificate(url, settings))
        key.verify(signature, string_to_sign(message), padding.PKCS1v15(), algorithm())
    except (InvalidSignature, binascii.Error, ValueError) as exc:
        raise SnsRefused("The signature does not match the message.") from exc


def subscribe_url(message: dict[str, str], settings: WebhookSettings) -> str:
    """Where to confirm a subscription: its SubscribeURL, on SNS_ENDPOINT_URL when that is set."""
    url = message.get("SubscribeURL", "")
    if not is_sns_url(url):
        raise SnsRefused("The SubscribeURL is not on an SNS host.")
    if not settings.sns_endpoint_url:
        return url
    parts = urlsplit(url)
    return f"{settings.sns_endpoint_url}{parts.path}?{parts.query}"


async def confirm_subscription(message: dict[str, str], settings: WebhookSettings) -> None:
    async with httpx.AsyncClient(timeout=FETCH_TIMEOUT) as client:
        response = await client.get(subscribe_url(message, settings))
    if response.status_code != 200:
        raise SnsRefused(f"SNS did not confirm the subscription ({response.status_code}).")


def notification_event(message: dict[str, Any]) -> bytes:
    """The SES notification an SNS Notification carries, as stored for processing."""
    return str(message.get("Message", "")).encode()
