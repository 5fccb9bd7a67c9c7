"""Settings → API keys: create (shown once), list masked, rotate with a grace period, revoke."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from litestar import Controller, Request, get, post
from litestar.response import Template
from redis.asyncio import Redis

from app.services import api_keys
from app.services.forms import FormError
from app.web.auth import signed_in
from app.web.pages import actor_of, form_values, is_htmx, on_form_error, page

PAGE = "settings/api_keys.html"
SECTION = "settings/api_keys_section.html"
MANAGE = {"action": "api_keys.manage"}
GRACE_CHOICES = ((0, "none: stops now"), (1, "1 hour"), (24, "24 hours"), (168, "7 days"))
# What each scope lets a key do, one line beside its checkbox.
SCOPE_HELP = {
    "messages:send": "Send transactional messages, and cancel the ones still waiting.",
    "messages:read": "Read transactional messages, their status and events.",
    "subscribers:write": "Add, update, tag and unsubscribe subscribers.",
    "subscribers:read": "Look up and list subscribers.",
    "lists:manage": "Create, change and delete lists and segments.",
    "campaigns:manage": "Create, schedule and read campaigns and templates.",
    "suppression:manage": "Add to and remove from the suppression lists.",
    "stats:read": "Read statistics and the delivery servers' health.",
    "webhooks:manage": "Define webhook endpoints and read their delivery log.",
    "leads:write": "Post leads (sign-ups from forms and partners).",
    "admin": "Every scope, managing API keys included.",
}
NEW_FORM = {"name": "", "scopes": "", "mode": "live", "expires_on": "", "allowed_ips": "",
            "rate_limit": str(api_keys.DEFAULT_RATE_LIMIT)}


def key_view(row: dict[str, Any], now: datetime) -> dict[str, Any]:
    """A key as the list shows it: masked, its status, and until when a rotated-out secret still works."""
    grace_until = row["previous_valid_until"] if row["rotated_at"] else None
    return {**row, "masked": api_keys.masked_prefix(row["prefix"]), "status": api_keys.key_status(row, now),
            "old_secret_until": grace_until if grace_until and grace_until > now and not row["revoked_at"] else None}


async def _context(workspace_id: int, *, created: tuple[dict, str] | None = None, notice: str = "",
                   form: dict[str, str] | None = None) -> dict[str, Any]:
    now = datetime.now(UTC)
    rows = await api_keys.list_keys(workspace_id)
    new_key, secret = created or (None, "")
    return {"keys": [key_view(row, now) for row in reversed(rows)], "scopes": api_keys.SCOPES,
            "scope_help": SCOPE_HELP,
            "grace_choices": GRACE_CHOICES, "form": form or NEW_FORM, "errors": {}, "notice": notice,
            "new_key": new_key, "secret": secret}


async def _page(request: Request, workspace_id: int, **context: Any) -> Template:
    return page(request, PAGE, partial=SECTION, **await _context(workspace_id, **context))


def _expiry(text: str, errors: dict[str, str]) -> datetime | None:
    """The start (UTC) of the day typed, the key's last day being the one before."""
    if not text.strip():
        return None
    try:
        return datetime.strptime(text.strip(), "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        errors["expires_at"] = "A date such as 2027-01-31."
        return None


def _rate_limit(text: str, errors: dict[str, str]) -> int:
    try:
        return int(text.strip() or api_keys.DEFAULT_RATE_LIMIT)
    except ValueError:
        errors["rate_limit"] = "A whole number of requests per minute."
        return api_keys.DEFAULT_RATE_LIMIT


def _grace(text: str) -> timedelta:
    """One of the offered grace periods; anything else is the default."""
    hours = {str(hours): hours for hours, _ in GRACE_CHOICES}.get(text.strip(), 24)
    return timedelta(hours=hours)


def key_options(form: dict[str, str], scopes: list[str]) -> dict[str, Any]:
    """The create form's strings as `create_key` options; FormError names each field that does not parse."""
    errors: dict[str, str] = {}
    options = {"name": form.get("name", ""), "scopes": scopes, "sandbox": form.get("mode") == "test",
               "expires_at": _expiry(form.get("expires_on", ""), errors),
               "allowed_ips": form.get("allowed_ips", "").replace(",", "\n").splitlines(),
               "rate_limit": _rate_limit(form.get("rate_limit", ""), errors)}
    if errors:
        raise FormError(errors)
    return options


class ApiKeySettingsController(Controller):
    path = "/settings/api-keys"
    guards = [signed_in]
    include_in_schema = False

    @get("/", name="api_keys", opt=MANAGE)
    async def show(self, request: Request, workspace_id: int) -> Template:
        return await _page(request, workspace_id)

    @post("/", opt=MANAGE)
    async def create(self, request: Request, workspace_id: int, redis: Redis) -> Template:
        submitted = await request.form()
        scopes = submitted.getall("scopes") if "scopes" in submitted else []
        form = {**form_values(submitted), "scopes": " ".join(scopes)}
        on_form_error(request, SECTION if is_htmx(request) else PAGE, lambda: _context(workspace_id), form)
        created = await api_keys.create_audited_key(redis, workspace_id, actor_of(request),
                                                    **key_options(form, scopes))
        return await _page(request, workspace_id, created=created)

    @post("/{key_id:int}/rotate", opt=MANAGE)
    async def rotate(self, request: Request, workspace_id: int, redis: Redis, key_id: int) -> Template:
        form = await request.form()
        created = await api_keys.rotate_key(redis, workspace_id, key_id, actor_of(request),
                                            grace=_grace(str(form.get("grace_hours", ""))))
        return await _page(request, workspace_id, created=created)

    @post("/{key_id:int}/revoke", opt=MANAGE)
    async def revoke(self, request: Request, workspace_id: int, redis: Redis, key_id: int) -> Template:
        row = await api_keys.revoke_key(redis, workspace_id, key_id, actor_of(request))
        return await _page(request, workspace_id,
                           notice=f"The key “{row['name']}” is revoked: it is refused from now on.")


CONTROLLERS: list[type[Controller]] = [ApiKeySettingsController]
