"""Routing rules, recipient domain groups, the routing preview, warm-up plans and the live delivery status."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from litestar import Controller, Request, get, post
from litestar.plugins.flash import flash
from litestar.response import Redirect, ServerSentEvent, ServerSentEventMessage, Template
from redis.asyncio import Redis

from app.routes.portals import section_context
from app.services import audit, delivery_servers, lists, routing, segments, warmup_plans
from app.services.delivery_status import server_statuses
from app.web.auth import signed_in
from app.web.pages import actor_of, form_values, on_form_error, submitted

ROUTING = "mailing/delivery/routing.html"
PREVIEW = "mailing/delivery/routing_preview.html"
WARMUP = "mailing/delivery/warmup.html"
LIVE = "mailing/delivery/partials/live.html"
LIVE_INTERVAL_SECONDS = 2.0


async def _routing_context(workspace_id: int) -> dict[str, Any]:
    return {**section_context("mailing", "delivery"), "rules": await routing.rules(workspace_id),
            "groups": await routing.domain_groups(workspace_id),
            "servers": await delivery_servers.servers(workspace_id),
            "lists": await lists.lists_with_counts(workspace_id)}


async def _preview_context(workspace_id: int) -> dict[str, Any]:
    return {**section_context("mailing", "delivery"), "rows": [],
            "segments": await segments.list_segments(workspace_id),
            "lists": await lists.lists_with_counts(workspace_id)}


async def _warmup_context(workspace_id: int) -> dict[str, Any]:
    return {**section_context("mailing", "delivery"), "plans": await warmup_plans.plans(workspace_id),
            "servers": await delivery_servers.servers(workspace_id)}


class RoutingController(Controller):
    path = "/mailing/delivery"
    guards = [signed_in]
    include_in_schema = False

    @get("/routing", name="routing")
    async def index(self, workspace_id: int) -> Template:
        return Template(ROUTING, context={**await _routing_context(workspace_id), "errors": {}, "form": {}})

    @post("/routing/rules", opt={"action": "routing.manage"})
    async def add_rule(self, request: Request, workspace_id: int, redis: Redis) -> Redirect:
        form = await submitted(request, ROUTING, lambda: _routing_context(workspace_id))
        async with audit.change(redis, workspace_id, actor_of(request)) as change:
            rule = await routing.save_rule(workspace_id, form)
            change.note("routing.rule_added", "rule", rule["id"], {"name": rule["name"]})
        flash(request, f"Rule “{rule['name']}” added.", "success")
        return Redirect("/mailing/delivery/routing", status_code=303)

    @post("/routing/rules/{rule_id:int}/delete", opt={"action": "routing.manage"})
    async def delete_rule(self, request: Request, rule_id: int, workspace_id: int, redis: Redis) -> Redirect:
        async with audit.change(redis, workspace_id, actor_of(request)) as change:
            await routing.delete_rule(workspace_id, rule_id)
            change.note("routing.rule_deleted", "rule", rule_id)
        return Redirect("/mailing/delivery/routing", status_code=303)

    @post("/routing/groups/{group_id:int}", opt={"action": "routing.manage"})
    async def update_group(self, request: Request, group_id: int, workspace_id: int, redis: Redis) -> Redirect:
        form = await submitted(request, ROUTING, lambda: _routing_context(workspace_id))
        async with audit.change(redis, workspace_id, actor_of(request)) as change:
            await routing.update_group(workspace_id, group_id, form)
            change.note("routing.group_updated", "group", group_id)
        flash(request, "Domain group saved.", "success")
        return Redirect("/mailing/delivery/routing", status_code=303)

    @get("/routing/preview", name="routing_preview")
    async def preview(self, request: Request, workspace_id: int, redis: Redis) -> Template:
        asked = form_values(request.query_params)
        on_form_error(request, PREVIEW, lambda: _preview_context(workspace_id), asked)
        rows = await routing.preview(redis, workspace_id, asked)
        return Template(PREVIEW, context={**await _preview_context(workspace_id), "rows": rows, "form": asked,
                                          "errors": {}})

    @get("/warmup", name="warmup_plans")
    async def warmup(self, workspace_id: int) -> Template:
        return Template(WARMUP, context={**await _warmup_context(workspace_id), "errors": {}, "form": {}})

    @post("/warmup", opt={"action": "routing.manage"})
    async def create_plan(self, request: Request, workspace_id: int, redis: Redis) -> Redirect:
        form = await submitted(request, WARMUP, lambda: _warmup_context(workspace_id))
        async with audit.change(redis, workspace_id, actor_of(request)) as change:
            plan = await warmup_plans.create_plan(workspace_id, form)
            change.note("warmup.plan_created", "plan", plan["id"])
        flash(request, f"Plan “{plan['name']}” added.", "success")
        return Redirect("/mailing/delivery/warmup", status_code=303)

    @post("/servers/{server_id:int}/warmup", opt={"action": "routing.manage"})
    async def assign(self, request: Request, server_id: int, workspace_id: int, redis: Redis) -> Redirect:
        form = await submitted(request, WARMUP, lambda: _warmup_context(workspace_id))
        async with audit.change(redis, workspace_id, actor_of(request)) as change:
            await warmup_plans.assign_from_form(workspace_id, server_id, form)
            change.note("warmup.assigned", "server", server_id,
                        {key: form.get(key, "") for key in ("plan_id", "day", "override_cap")})
        flash(request, "Warm-up settings saved.", "success")
        return Redirect("/mailing/delivery/warmup", status_code=303)

    @get("/live", name="delivery_live")
    async def live(self, workspace_id: int, redis: Redis) -> Template:
        return Template(LIVE, context={"rows": await server_statuses(redis, workspace_id)})

    @get("/events", name="delivery_events")
    async def events(self, request: Request, workspace_id: int, redis: Redis) -> ServerSentEvent:
        template = request.app.template_engine.get_template(LIVE)

        async def stream() -> AsyncIterator[ServerSentEventMessage]:
            while True:
                rows = await server_statuses(redis, workspace_id)
                yield ServerSentEventMessage(event="delivery", data=template.render(rows=rows))
                await asyncio.sleep(LIVE_INTERVAL_SECONDS)

        return ServerSentEvent(stream(), headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})
