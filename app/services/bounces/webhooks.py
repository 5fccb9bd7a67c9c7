"""Provider webhooks: `POST /webhooks/<provider>/<token>` checked, split into events and stored as reports.

The token in the URL names the workspace and the delivery server (signed, so it cannot be changed to
name another), and each provider's own proof is checked on top: SNS's signature for SES, HTTP basic
credentials derived from the token for SparkPost (set as the webhook's "basic auth"), and Mailgun's
HMAC-SHA256 of timestamp and token with the webhook signing key, stored per server with the vault.
Nothing is parsed or acted on here: each event is stored with `intake.accept` (which stores an event
id once, so a replay is stored once) and the caller queues the processing, so a provider gets its
answer in milliseconds.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from app.services import vault
from app.services.bounces import sns
from app.services.bounces.intake import Incoming, accept
from app.services.bounces.provider_reports import MAILGUN_EVENTS, PROVIDERS, SPARKPOST_EVENTS
from app.services.delivery_servers import get_server
from app.services.forms import FormError
from app.services.sqlparams import fetch_positional
from app.settings import Settings, get_settings

_TAG_BYTES = 16
SPARKPOST_USER = "ignite"
MAX_KEY_CHARS = 200


# The stable code of each refusal, by status (one refusal has its own).
REFUSAL_CODES = {400: "malformed_body", 401: "unauthenticated", 403: "bad_signature", 404: "no_such_webhook"}


class WebhookRefused(Exception):
    """A post that is not a genuine provider event for this URL: the status, code and text to answer with."""

    def __init__(self, status: int, message: str, code: str = "") -> None:
        super().__init__(message)
        self.status, self.message, self.code = status, message, code or REFUSAL_CODES[status]


@dataclass(frozen=True)
class Target:
    workspace_id: int
    server_id: int


def _keys(settings: Settings) -> tuple[bytes, ...]:
    secrets = (settings.security.secret_key, *settings.tracking.previous_keys)
    return tuple(hashlib.sha256(f"ignite:bounce-webhook:{secret}".encode()).digest() for secret in secrets)


def _mac(key: bytes, purpose: bytes, data: bytes) -> bytes:
    return hashlib.blake2b(data, key=key, person=purpose, digest_size=_TAG_BYTES).digest()


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def webhook_token(settings: Settings, workspace_id: int, server_id: int) -> str:
    payload = f"{workspace_id}.{server_id}"
    return f"{payload}.{_b64(_mac(_keys(settings)[0], b'webhook-url', payload.encode()))}"


def webhook_target(token: str, settings: Settings | None = None) -> Target | None:
    """The workspace and server a URL token names, or None when it is forged or malformed."""
    workspace, _, rest = token.partition(".")
    server, _, tag = rest.partition(".")
    if not (workspace.isdigit() and server.isdigit() and len(workspace) < 10 and len(server) < 10):
        return None
    data = f"{workspace}.{server}".encode()
    if not any(hmac.compare_digest(_b64(_mac(key, b"webhook-url", data)), tag)
               for key in _keys(settings or get_settings())):
        return None
    return Target(int(workspace), int(server))


def sparkpost_password(settings: Settings, token: str) -> str:
    """The basic-auth password SparkPost sends with this URL's posts: derived, so nothing is stored."""
    return _b64(_mac(_keys(settings)[0], b"sparkpost-auth", token.encode()))


def provider_of(server: Mapping[str, Any]) -> str | None:
    """The webhook provider a delivery server's events come from, or None (SMTP: bounces come by mail)."""
    if server["kind"] == "ses":
        return "ses"
    provider = (server.get("settings") or {}).get("provider")
    return provider if server["kind"] == "http_api" and provider in PROVIDERS else None


def webhook_url(settings: Settings, server: Mapping[str, Any]) -> str:
    provider = provider_of(server)
    if provider is None:
        raise LookupError("webhook")
    token = webhook_token(settings, server["workspace_id"], server["id"])
    return f"{settings.base_url}/webhooks/{provider}/{token}"


async def signing_key(workspace_id: int, server_id: int) -> str:
    rows = await fetch_positional("SELECT signing_key FROM bounce_webhook_keys WHERE server_id = $1 "
                                  "AND workspace_id = $2", [server_id, workspace_id])
    return vault.decrypt(rows[0]["signing_key"]) if rows else ""


async def save_signing_key(workspace_id: int, server_id: int, key: str) -> None:
    """Stores the server's Mailgun webhook signing key (Mailgun: Sending → Webhooks → signing key)."""
    server = await get_server(workspace_id, server_id)
    key = key.strip()
    if provider_of(server) != "mailgun":
        raise FormError("Only Mailgun servers sign their webhooks with a key of their own.", field="signing_key")
    if not key or len(key) > MAX_KEY_CHARS or not key.isprintable() or " " in key:
        raise FormError("Paste the webhook signing key from Mailgun (Sending → Webhooks): one word, "
                        f"at most {MAX_KEY_CHARS} characters.", field="signing_key")
    await fetch_positional(
        "INSERT INTO bounce_webhook_keys (server_id, workspace_id, signing_key) VALUES ($1, $2, $3) "
        "ON CONFLICT (server_id) DO UPDATE SET signing_key = EXCLUDED.signing_key, updated_at = now()",
        [server_id, workspace_id, vault.encrypt(key)])


def _json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError as exc:
        raise WebhookRefused(400, "The body is not JSON.") from exc


async def _ses_events(target: Target, body: bytes, settings: Settings) -> list[Incoming]:
    try:
        message = sns.parsed(body)
        await sns.verify(message, settings.webhooks)
        if message["Type"] == "SubscriptionConfirmation":
            await sns.confirm_subscription(message, settings.webhooks)
    except sns.SnsRefused as exc:
        raise WebhookRefused(403, str(exc)) from exc
    if message["Type"] != "Notification":
        return []
    return [Incoming("ses", message["MessageId"], "ses", sns.notification_event(message), target.workspace_id)]


def _basic_credentials(headers: Mapping[str, str]) -> tuple[str, str]:
    scheme, _, encoded = headers.get("authorization", "").partition(" ")
    try:
        user, _, password = base64.b64decode(encoded, validate=True).decode().partition(":")
    except (ValueError, UnicodeDecodeError):
        return "", ""
    return (user, password) if scheme.lower() == "basic" else ("", "")


def _sparkpost_events(target: Target, token: str, headers: Mapping[str, str], body: bytes,
                      settings: Settings) -> list[Incoming]:
    user, password = _basic_credentials(headers)
    if user != SPARKPOST_USER or not hmac.compare_digest(password, sparkpost_password(settings, token)):
        raise WebhookRefused(401, "Set the webhook's basic authentication to the credentials Ignite shows.")
    batch = _json(body)
    if not isinstance(batch, list):
        raise WebhookRefused(400, "SparkPost posts a list of events.")
    events = [event for item in batch if isinstance(item, dict)
              for event in (item.get("msys") or {}).values() if isinstance(event, dict)]
    return [Incoming("sparkpost", str(event["event_id"])[:255], "sparkpost", json.dumps(event).encode(),
                     target.workspace_id)
            for event in events if event.get("type") in SPARKPOST_EVENTS and event.get("event_id")]


async def _mailgun_events(target: Target, body: bytes) -> list[Incoming]:
    posted = _json(body)
    signature = posted.get("signature") if isinstance(posted, dict) else None
    if not isinstance(signature, dict):
        raise WebhookRefused(400, "Mailgun posts an object with `signature` and `event-data`.")
    key = await signing_key(target.workspace_id, target.server_id)
    if not key:
        raise WebhookRefused(403, "Enter this server's Mailgun webhook signing key in Ignite first.",
                             "no_signing_key")
    signed = f"{signature.get('timestamp', '')}{signature.get('token', '')}".encode()
    expected = hmac.new(key.encode(), signed, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, str(signature.get("signature", ""))):
        raise WebhookRefused(403, "The signature does not match the event.")
    event = posted.get("event-data")
    if not isinstance(event, dict) or event.get("event") not in MAILGUN_EVENTS or not event.get("id"):
        return []
    return [Incoming("mailgun", str(event["id"])[:255], "mailgun", json.dumps(event).encode(), target.workspace_id)]


async def _target(provider: str, token: str, settings: Settings) -> Target:
    target = webhook_target(token, settings)
    if target is None:
        raise WebhookRefused(404, "There is no such webhook.")
    try:
        server = await get_server(target.workspace_id, target.server_id)
    except LookupError as exc:
        raise WebhookRefused(404, "There is no such webhook.") from exc
    if provider_of(server) != provider:
        raise WebhookRefused(404, "This webhook is not for that provider.")
    return target


async def receive(provider: str, token: str, headers: Mapping[str, str], body: bytes) -> list[int]:
    """The ids of the reports stored from one post (none for a replay or an event of no interest)."""
    settings = get_settings()
    target = await _target(provider, token, settings)
    if provider == "ses":
        incoming = await _ses_events(target, body, settings)
    elif provider == "sparkpost":
        incoming = _sparkpost_events(target, token, headers, body, settings)
    else:
        incoming = await _mailgun_events(target, body)
    return [report_id for event in incoming if (report_id := await accept(event)) is not None]
