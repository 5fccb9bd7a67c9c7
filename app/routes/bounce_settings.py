"""Mailing → Bounces → Thresholds: when soft bounces count as hard, and the rates that warn or pause."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.plugins.flash import flash
from litestar.response import Redirect, Template
from redis.asyncio import Redis

from app.routes.portals import section_context
from app.services import audit
from app.services.bounces import thresholds
from app.web.auth import signed_in
from app.web.pages import actor_of, submitted

PAGE = "mailing/bounces/settings.html"
MANAGE = {"action": "delivery.manage"}


def _context() -> dict[str, Any]:
    return {**section_context("mailing", "bounces"), "errors": {}}


class BounceSettingsController(Controller):
    path = "/mailing/bounces/settings"
    guards = [signed_in]
    include_in_schema = False

    @get("/", name="bounce_settings")
    async def show(self, workspace_id: int) -> Template:
        settings = await thresholds.feedback_settings(workspace_id)
        return Template(PAGE, context={**_context(), "form": thresholds.as_form(settings)})

    @post("/", opt=MANAGE)
    async def save(self, request: Request, workspace_id: int, redis: Redis) -> Redirect:
        form = await submitted(request, PAGE, _context())
        async with audit.change(redis, workspace_id, actor_of(request)) as change:
            saved = await thresholds.save_settings(workspace_id, form)
            change.note("bounces.thresholds_changed", "workspace", workspace_id, thresholds.as_form(saved))
        flash(request, "Thresholds saved. They apply to the next report processed.", "success")
        return Redirect("/mailing/bounces/settings", status_code=303)
