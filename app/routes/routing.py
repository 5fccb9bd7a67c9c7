"""Routing rules, recipient domain groups, the routing preview, warm-up plans and the live delivery status."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator

from litestar import Controller, Request, get, post
from litestar.exceptions import NotFoundException
from litestar.plugins.flash import flash
from litestar.response import Redirect, ServerSentEvent, ServerSentEventMessage, Template

from app.redis_client import get_redis
from app.routes.portals import section_context
from app.services import audit, delivery_servers, lists, routing, segments, warmup_plans
from app.services.delivery_status import server_status
from app.services.routing import RoutingError
from app.services.warmup_plans import WarmupError
from app.web.auth import signed_in
from app.web.pages import actor_of, form_values

PREVIEW_LIMIT = 50
LIVE_INTERVAL_SECONDS = 2.0


def _optional_int(value: object) -> int | None:
    text = str(value or "").strip()
    return int(text) if text.isdigit() else None


async def _routing_page(request: Request, errors: dict | None = None, form: dict | None = None,
                        status_code: int = 200) -> Template:
    workspace_id = request.state.viewer.workspace_id
    return Template("mailing/delivery/routing.html", status_code=status_code, context={
        **section_context("mailing", "delivery"), "rules": await routing.rules(workspace_id),
        "groups": await routing.domain_groups(workspace_id), "servers": await delivery_servers.servers(workspace_id),
        "lists": await lists.lists_with_counts(workspace_id), "errors": errors or {}, "form": form or {}})


async def _live_rows(request: Request) -> list:
    redis = get_redis()
    workspace_id = request.state.viewer.workspace_id
    plans = await warmup_plans.plans_by_id(workspace_id)
    return [await server_status(redis, server, plans) for server in await delivery_servers.servers(workspace_id)]


class RoutingController(Controller):
    path = "/mailing/delivery"
    guards = [signed_in]
    include_in_schema = False

    @get("/routing", name="routing")
    async def index(self, request: Request) -> Template:
        return await _routing_page(request)

    @post("/routing/rules", opt={"action": "routing.manage"})
    async def add_rule(self, request: Request) -> Template | Redirect:
        form = form_values(await request.form())
        workspace_id = request.state.viewer.workspace_id
        try:
            rule = await routing.save_rule(workspace_id, form)
        except RoutingError as exc:
            return await _routing_page(request, exc.errors, form, status_code=400)
        await audit.record(get_redis(), workspace_id, actor_of(request), "routing.rule_added", "rule", rule["id"],
                           {"name": rule["name"]})
        flash(request, f"Rule “{rule['name']}” added.", "success")
        return Redirect("/mailing/delivery/routing", status_code=303)

    @post("/routing/rules/{rule_id:int}/delete", opt={"action": "routing.manage"})
    async def delete_rule(self, request: Request, rule_id: int) -> Redirect:
        workspace_id = request.state.viewer.workspace_id
        try:
            await routing.delete_rule(workspace_id, rule_id)
        except LookupError as exc:
            raise NotFoundException() from exc
        await audit.record(get_redis(), workspace_id, actor_of(request), "routing.rule_deleted", "rule", rule_id)
        return Redirect("/mailing/delivery/routing", status_code=303)

    @post("/routing/groups/{group_id:int}", opt={"action": "routing.manage"})
    async def update_group(self, request: Request, group_id: int) -> Template | Redirect:
        form = form_values(await request.form())
        workspace_id = request.state.viewer.workspace_id
        try:
            await routing.update_group(workspace_id, group_id, form)
        except LookupError as exc:
            raise NotFoundException() from exc
        except RoutingError as exc:
            return await _routing_page(request, exc.errors, status_code=400)
        await audit.record(get_redis(), workspace_id, actor_of(request), "routing.group_updated", "group", group_id)
        flash(request, "Domain group saved.", "success")
        return Redirect("/mailing/delivery/routing", status_code=303)

    @get("/routing/preview", name="routing_preview")
    async def preview(self, request: Request, addresses: str = "", segment_id: str = "",
                      list_id: str = "", tag: str = "") -> Template:
        workspace_id = request.state.viewer.workspace_id
        emails = [a.strip().lower() for a in re.split(r"[\s,;]+", addresses) if "@" in a][:PREVIEW_LIMIT]
        segment = await segments.get_segment(workspace_id, segment_id) if segment_id else None
        if segment is not None:
            rows = await segments.preview(workspace_id, {"list_ids": segment["list_ids"],
                                                         "conditions": segment["conditions"]}, limit=PREVIEW_LIMIT)
            emails += [row["email"] for row in rows]
        context = await routing.routing_context(workspace_id)
        routes = [await routing.route(get_redis(), workspace_id, email, _optional_int(list_id), tag, context)
                  for email in emails]
        return Template("mailing/delivery/routing_preview.html", context={
            **section_context("mailing", "delivery"), "routes": routes, "addresses": addresses,
            "segments": await segments.list_segments(workspace_id), "segment_id": segment_id,
            "lists": await lists.lists_with_counts(workspace_id), "list_id": list_id, "tag": tag})

    @get("/warmup", name="warmup_plans")
    async def warmup(self, request: Request) -> Template:
        return await self._warmup_page(request, {}, {})

    async def _warmup_page(self, request: Request, errors: dict, form: dict, status_code: int = 200) -> Template:
        workspace_id = request.state.viewer.workspace_id
        return Template("mailing/delivery/warmup.html", status_code=status_code, context={
            **section_context("mailing", "delivery"), "plans": await warmup_plans.plans(workspace_id),
            "servers": await delivery_servers.servers(workspace_id), "errors": errors, "form": form})

    @post("/warmup", opt={"action": "routing.manage"})
    async def create_plan(self, request: Request) -> Template | Redirect:
        form = form_values(await request.form())
        workspace_id = request.state.viewer.workspace_id
        try:
            plan = await warmup_plans.create_plan(workspace_id, form)
        except WarmupError as exc:
            return await self._warmup_page(request, exc.errors, form, status_code=400)
        await audit.record(get_redis(), workspace_id, actor_of(request), "warmup.plan_created", "plan", plan["id"])
        return Redirect("/mailing/delivery/warmup", status_code=303)

    @post("/servers/{server_id:int}/warmup", opt={"action": "routing.manage"})
    async def assign(self, request: Request, server_id: int) -> Template | Redirect:
        form = form_values(await request.form())
        workspace_id = request.state.viewer.workspace_id
        try:
            await warmup_plans.assign(workspace_id, server_id, _optional_int(form.get("plan_id")),
                                      _optional_int(form.get("day")) or 1, _optional_int(form.get("override_cap")))
        except LookupError as exc:
            raise NotFoundException() from exc
        except WarmupError as exc:
            return await self._warmup_page(request, exc.errors, form, status_code=400)
        await audit.record(get_redis(), workspace_id, actor_of(request), "warmup.assigned", "server", server_id,
                           {key: form.get(key, "") for key in ("plan_id", "day", "override_cap")})
        flash(request, "Warm-up settings saved.", "success")
        return Redirect("/mailing/delivery/warmup", status_code=303)

    @get("/live", name="delivery_live")
    async def live(self, request: Request) -> Template:
        return Template("mailing/delivery/partials/live.html", context={"rows": await _live_rows(request)})

    @get("/events", name="delivery_events")
    async def events(self, request: Request) -> ServerSentEvent:
        engine = request.app.template_engine
        template = engine.get_template("mailing/delivery/partials/live.html")

        async def stream() -> AsyncIterator[ServerSentEventMessage]:
            while True:
                yield ServerSentEventMessage(event="delivery", data=template.render(rows=await _live_rows(request)))
                await asyncio.sleep(LIVE_INTERVAL_SECONDS)

        return ServerSentEvent(stream(), headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})

