"""Tracking settings (admins and owners): the postback URL and its key, sub-id names, offer domains."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.response import Template
from redis.asyncio import Redis

from app.services import audit
from app.services.tracking import offers
from app.services.tracking.conversions import postback_url, rotate_postback_secret
from app.services.vault import DOTS
from app.settings import get_settings
from app.web.auth import signed_in
from app.web.pages import actor_of, is_htmx, page, submitted

PAGE = "settings/tracking.html"
SECTION = "settings/tracking_section.html"
MANAGE = {"action": "tracking.manage"}


def _form_of(settings: dict[str, Any]) -> dict[str, str]:
    """The stored settings as the form shows them: offer domains one per line."""
    return {**{name: settings[name] for name in (*offers.PARAMS, "currency")},
            "offer_domains": "\n".join(settings["offer_domains"])}


async def _context(workspace_id: int, secret: str = "", notice: str = "") -> dict[str, Any]:
    settings = await offers.workspace_settings(workspace_id)
    base_url = get_settings().base_url
    hint = settings["postback_secret_hint"]
    return {"settings": settings, "form": _form_of(settings), "errors": {}, "notice": notice,
            # The key is shown once, when made; afterwards only its last characters tell which one it is.
            "new_postback_url": postback_url(base_url, settings, secret) if secret else "",
            "postback_url": postback_url(base_url, settings, f"{DOTS}{hint}") if hint else ""}


async def _page(request: Request, workspace_id: int, secret: str = "", notice: str = "") -> Template:
    return page(request, PAGE, partial=SECTION, **await _context(workspace_id, secret, notice))


class TrackingSettingsController(Controller):
    path = "/settings/tracking"
    guards = [signed_in]
    include_in_schema = False

    @get("/", name="tracking_settings", opt=MANAGE)
    async def show(self, request: Request, workspace_id: int) -> Template:
        return await _page(request, workspace_id)

    @post("/", opt=MANAGE)
    async def save(self, request: Request, workspace_id: int, redis: Redis) -> Template:
        form = await submitted(request, SECTION if is_htmx(request) else PAGE, lambda: _context(workspace_id))
        async with audit.change(redis, workspace_id, actor_of(request)) as change:
            saved = await offers.save_settings(workspace_id, form)
            change.note("tracking.settings_changed", "workspace", workspace_id,
                        {name: saved[name] for name in (*offers.PARAMS, "offer_domains", "currency")})
        return await _page(request, workspace_id, notice="Tracking settings saved.")

    @post("/postback-key", opt=MANAGE)
    async def rotate_key(self, request: Request, workspace_id: int, redis: Redis) -> Template:
        async with audit.change(redis, workspace_id, actor_of(request)) as change:
            secret = await rotate_postback_secret(workspace_id)
            change.note("tracking.postback_key_rotated", "workspace", workspace_id)
        return await _page(request, workspace_id, secret=secret)
