"""A workspace's webhook endpoints: their URL and events (validated), signing secret, enabling, and the
private-targets setting. Every change forgets the cached kinds the workspace hears.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from app.db.webhooks import WebhookEndpoint, WebhookSettings
from app.services import statements, vault
from app.services.accounts import now
from app.services.forms import FormError
from app.services.tenancy import checked_workspace_id, fetch_owned, owned_by
from app.services.webhooks.events import KINDS, forget_listening
from app.services.webhooks.targets import is_public, literal_address

URL_LENGTH = 2000
DESCRIPTION_LENGTH = 200
SECRET_PREFIX = "whsec_"
LOCAL_NAMES = ("localhost", "localhost.localdomain")


class EndpointFormError(FormError):
    """Endpoint settings that cannot be saved."""


def _url_problem(url: str, allow_private: bool) -> str | None:
    parts = urlsplit(url)
    if not url or len(url) > URL_LENGTH:
        return f"Enter the URL to post events to (up to {URL_LENGTH} characters)."
    if parts.scheme not in {"https", "http"} or not parts.hostname:
        return "Enter a full URL starting with https:// (or http://), such as https://example.com/hooks/ignite."
    if "@" in parts.netloc:
        return "Leave user names and passwords out of the URL: each delivery is signed instead."
    try:
        parts.port  # noqa: B018  (raises for a port out of range)
    except ValueError:
        return "The port must be a number from 1 to 65535."
    address = literal_address(parts.hostname)
    local = parts.hostname.lower() in LOCAL_NAMES or (address is not None and not is_public(address))
    if local and not allow_private:
        return ("That is a private, loopback or link-local address: allow such endpoints under Private targets "
                "on the Settings → Webhooks page first, or use a public URL.")
    return None


def _events(raw: dict[str, Any]) -> list[str]:
    value = raw.get("events") or []
    chosen = [value] if isinstance(value, str) else list(value)
    return [kind for kind in KINDS if kind in chosen]


def cleaned_values(raw: dict[str, Any], allow_private: bool) -> dict[str, Any]:
    """The columns an endpoint form or API body sets; EndpointFormError names each bad field."""
    errors: dict[str, str] = {}
    url = str(raw.get("url", "") or "").strip()
    problem = _url_problem(url, allow_private)
    if problem:
        errors["url"] = problem
    unknown = set([raw["events"]] if isinstance(raw.get("events"), str) else raw.get("events") or []) - set(KINDS)
    events = _events(raw)
    if unknown:
        errors["events"] = f"Unknown events: {', '.join(sorted(map(str, unknown)))}."
    elif not events:
        errors["events"] = "Choose at least one event to post to this endpoint."
    description = str(raw.get("description", "") or "").strip()
    if len(description) > DESCRIPTION_LENGTH:
        errors["description"] = f"Keep the description to {DESCRIPTION_LENGTH} characters."
    if errors:
        raise EndpointFormError(errors)
    return {"url": url, "events": events, "description": description}


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


async def private_targets_allowed(workspace_id: int) -> bool:
    row = await WebhookSettings.select(WebhookSettings.allow_private_targets).where(
        owned_by(WebhookSettings, workspace_id)).first()
    return bool(row and row["allow_private_targets"])


async def allow_private_targets(workspace_id: int, allowed: bool) -> None:
    await WebhookSettings.insert(WebhookSettings(
        workspace_id=checked_workspace_id(workspace_id), allow_private_targets=allowed, updated_at=now(),
    )).on_conflict(target=WebhookSettings.workspace_id, action="DO UPDATE",
                   values=[WebhookSettings.allow_private_targets, WebhookSettings.updated_at])


async def endpoints_of(workspace_id: int) -> list[dict]:
    return await WebhookEndpoint.select().where(owned_by(WebhookEndpoint, workspace_id)).order_by(WebhookEndpoint.id)


async def endpoint_of(workspace_id: int, endpoint_id: object) -> dict:
    """The endpoint with this id in this workspace; LookupError when there is none."""
    row = await fetch_owned(WebhookEndpoint, workspace_id, endpoint_id)
    if row is None:
        raise LookupError("webhook endpoint")
    return row


async def create_endpoint(workspace_id: int, raw: dict[str, Any]) -> tuple[dict, str]:
    """The new endpoint and its signing secret (stored encrypted)."""
    values = cleaned_values(raw, await private_targets_allowed(workspace_id))
    secret = new_secret()
    rows = await WebhookEndpoint.insert(WebhookEndpoint(
        workspace_id=checked_workspace_id(workspace_id), secret=vault.encrypt(secret), enabled=True,
        created_at=now(), updated_at=now(), **values,
    )).returning(*WebhookEndpoint.all_columns())
    forget_listening(workspace_id)
    return rows[0], secret


async def _updated(workspace_id: int, endpoint_id: int, values: dict[str, Any]) -> dict:
    rows = await WebhookEndpoint.update({**values, WebhookEndpoint.updated_at: now()}).where(
        owned_by(WebhookEndpoint, workspace_id), WebhookEndpoint.id == endpoint_id,
    ).returning(*WebhookEndpoint.all_columns())
    forget_listening(workspace_id)
    return rows[0]


async def update_endpoint(workspace_id: int, endpoint_id: int, raw: dict[str, Any]) -> dict:
    await endpoint_of(workspace_id, endpoint_id)
    values = cleaned_values(raw, await private_targets_allowed(workspace_id))
    return await _updated(workspace_id, endpoint_id, {getattr(WebhookEndpoint, k): v for k, v in values.items()})


async def set_enabled(workspace_id: int, endpoint_id: int, enabled: bool) -> dict:
    """Enable (clearing the failure streak and the reason it was disabled) or disable an endpoint."""
    await endpoint_of(workspace_id, endpoint_id)
    async with WebhookEndpoint._meta.db.transaction():
        updated = await _updated(workspace_id, endpoint_id, {
            WebhookEndpoint.enabled: enabled, WebhookEndpoint.failures: 0,
            WebhookEndpoint.disabled_at: None if enabled else now(),
            WebhookEndpoint.disabled_reason: "" if enabled else "Disabled by hand."})
        await statements.run("webhooks.resume-pending" if enabled else "webhooks.park-pending", endpoint_id)
    return updated


async def rotate_secret(workspace_id: int, endpoint_id: int) -> str:
    await endpoint_of(workspace_id, endpoint_id)
    secret = new_secret()
    await _updated(workspace_id, endpoint_id, {WebhookEndpoint.secret: vault.encrypt(secret)})
    return secret


async def revealed_secret(workspace_id: int, endpoint_id: int) -> str:
    return vault.decrypt((await endpoint_of(workspace_id, endpoint_id))["secret"])


async def delete_endpoint(workspace_id: int, endpoint_id: int) -> dict:
    endpoint = await endpoint_of(workspace_id, endpoint_id)
    await WebhookEndpoint.delete().where(owned_by(WebhookEndpoint, workspace_id), WebhookEndpoint.id == endpoint_id)
    forget_listening(workspace_id)
    return endpoint


def form_of(endpoint: dict) -> dict[str, Any]:
    return {"url": endpoint["url"], "description": endpoint["description"], "events": list(endpoint["events"])}


def kinds_named(kinds: Iterable[str]) -> str:
    return ", ".join(KINDS.get(kind, kind) for kind in kinds)


async def endpoints_page(workspace_id: int, after_id: int, limit: int) -> list[dict]:
    """Endpoints after `after_id`, oldest first (a keyset page of the API)."""
    return await WebhookEndpoint.select().where(
        owned_by(WebhookEndpoint, workspace_id), WebhookEndpoint.id > after_id,
    ).order_by(WebhookEndpoint.id).limit(limit)


async def patched_endpoint(workspace_id: int, endpoint_id: int, changes: dict[str, Any]) -> dict:
    """The endpoint with only the given fields changed (the API's PATCH), checked as a whole."""
    current = await endpoint_of(workspace_id, endpoint_id)
    updated = await update_endpoint(workspace_id, endpoint_id, {**form_of(current), **changes})
    if "enabled" in changes and changes["enabled"] != updated["enabled"]:
        updated = await set_enabled(workspace_id, endpoint_id, bool(changes["enabled"]))
    return updated
