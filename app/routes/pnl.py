"""Analytics → P&L: revenue against ESP and data costs, per day, campaign, server and list, and the costs behind it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from litestar import Controller, Request, get, post
from litestar.exceptions import NotFoundException
from litestar.response import ServerSentEvent, ServerSentEventMessage, Stream, Template
from redis.asyncio import Redis

from app.routes.portals import entering, permitted, section_context
from app.routes.revenue import chosen_period, csv_response
from app.services import audit
from app.services.accounts import Viewer
from app.services.analytics import costs, pnl
from app.services.analytics.periods import Period, period_from
from app.services.tracking.offers import workspace_settings
from app.web.auth import signed_in
from app.web.charts import line_chart
from app.web.pages import actor_of, page, submitted
from app.web.permissions import CHANGE

PAGE = "analytics/pnl/index.html"
TODAY = "analytics/pnl/partials/today_figures.html"
COSTS_PAGE = "analytics/pnl/costs.html"
COSTS_SECTION = "analytics/pnl/partials/costs_section.html"
DEFAULT_DAYS = 30
SSE_HEADERS = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}


async def today_context(workspace_id: int) -> dict[str, Any]:
    """What the today panel shows (`analytics/pnl/partials/today.html`: the P&L page and the Analytics overview,
    app/routes/portals.py, include it)."""
    return {"summary": await pnl.today_summary(workspace_id),
            "currency": (await workspace_settings(workspace_id))["currency"]}


async def _page_context(workspace_id: int, period: Period) -> dict[str, Any]:
    tables = {by: await pnl.table(workspace_id, period, by) for by in pnl.TABLES}
    days = tables["day"]
    chart = line_chart([row.label for row in days], [
        ("Revenue", [float(row.revenue) for row in days]), ("Cost", [float(row.cost) for row in days]),
        ("Profit", [float(row.profit) for row in days])])
    return {"tables": tables, "titles": pnl.TABLES, "total": pnl.total(days), "chart": chart,
            **await today_context(workspace_id)}


async def today_messages(redis: Redis, workspace_id: int, panel: Any,
                         idle_seconds: float = 15.0) -> AsyncIterator[ServerSentEventMessage]:
    """The today panel as it stands once listening, then again each time revenue changes; after each quiet spell
    it is read again and sent if sends moved the cost (the send path announces nothing), else a keep-alive."""
    shown = ""
    async for changed in pnl.revenue_changes(redis, workspace_id, idle_seconds):
        html = panel.render(**await today_context(workspace_id))
        if changed or html != shown:
            shown = html
            yield ServerSentEventMessage(event="pnl-today", data=html)
        else:
            yield ServerSentEventMessage(comment="keep-alive")


async def _costs_context(workspace_id: int, viewer: Viewer, editing: tuple[str, int] | None = None,
                         notice: str = "") -> dict[str, Any]:
    return {**section_context("analytics", "pnl"), "sheet": await costs.cost_sheet(workspace_id),
            "recurrences": costs.RECURRENCES, "can": permitted(viewer, CHANGE), "editing": editing,
            "notice": notice, "currency": (await workspace_settings(workspace_id))["currency"]}


async def _costs_page(request: Request, workspace_id: int, viewer: Viewer, notice: str) -> Template:
    return page(request, COSTS_PAGE, partial=COSTS_SECTION, form={}, errors={},
                **await _costs_context(workspace_id, viewer, notice=notice))


async def _costs_form(request: Request, workspace_id: int, viewer: Viewer, editing: tuple[str, int]) -> dict[str, str]:
    """The posted costs form; a refusal re-renders the costs section with the messages beside that row."""
    return await submitted(request, COSTS_SECTION, lambda: _costs_context(workspace_id, viewer, editing))


class PnlController(Controller):
    path = "/analytics/pnl"
    guards = [signed_in]
    include_in_schema = False

    @get("/", name="pnl")
    async def index(self, request: Request, viewer: Viewer, workspace_id: int) -> Template:
        await entering(viewer, "analytics")
        period, errors = chosen_period(request, DEFAULT_DAYS)
        return Template(PAGE, status_code=422 if errors else 200, context={
            **section_context("analytics", "pnl"), "period": period, "errors": errors,
            "can": permitted(viewer, CHANGE, "tracking.manage"),
            "form": dict(request.query_params), **await _page_context(workspace_id, period)})

    @get("/today", name="pnl_today")
    async def today(self, workspace_id: int) -> Template:
        return Template(TODAY, context=await today_context(workspace_id))

    @get("/today/events", name="pnl_today_events")
    async def today_events(self, request: Request, workspace_id: int, redis: Redis) -> ServerSentEvent:
        """Today's P&L over Server-Sent Events: a postback moves it on every open page."""
        panel = request.app.template_engine.get_template(TODAY)
        return ServerSentEvent(today_messages(redis, workspace_id, panel), headers=SSE_HEADERS)

    @get("/export.csv", name="pnl_export")
    async def export(self, request: Request, workspace_id: int, by: str = "day") -> Stream:
        if by not in pnl.TABLES:
            raise NotFoundException("There is no such table.")
        period = period_from(request.query_params, DEFAULT_DAYS)
        return csv_response(pnl.table_csv(workspace_id, period, by), f"pnl-by-{by}", period)

    @get("/costs", name="pnl_costs")
    async def costs_page(self, request: Request, viewer: Viewer, workspace_id: int) -> Template:
        await entering(viewer, "analytics")
        return await _costs_page(request, workspace_id, viewer, notice="")

    @post("/costs/servers/{server_id:int}")
    async def save_server(self, request: Request, viewer: Viewer, workspace_id: int, server_id: int,
                          redis: Redis) -> Template:
        form = await _costs_form(request, workspace_id, viewer, ("server", server_id))
        async with audit.change(redis, workspace_id, actor_of(request)) as change:
            saved = await costs.save_server_costs(workspace_id, server_id, form)
            change.note("server_cost.changed", "server", server_id, {
                "name": saved["name"], "cost_per_thousand": str(saved["cost_per_thousand"]),
                "monthly_cost": str(saved["monthly_cost"])})
        return await _costs_page(request, workspace_id, viewer, f"Costs of {saved['name']} saved.")

    @post("/costs/lists/{list_id:int}")
    async def save_list(self, request: Request, viewer: Viewer, workspace_id: int, list_id: int,
                        redis: Redis) -> Template:
        form = await _costs_form(request, workspace_id, viewer, ("list", list_id))
        async with audit.change(redis, workspace_id, actor_of(request)) as change:
            saved = await costs.save_list_cost(workspace_id, list_id, form)
            change.note("list_cost.changed", "list", list_id, {"monthly_cost": str(saved["monthly_cost"])})
        return await _costs_page(request, workspace_id, viewer, "List data cost saved.")

    @post("/costs/imports/{import_id:int}")
    async def save_import(self, request: Request, viewer: Viewer, workspace_id: int, import_id: int,
                          redis: Redis) -> Template:
        form = await _costs_form(request, workspace_id, viewer, ("import", import_id))
        async with audit.change(redis, workspace_id, actor_of(request)) as change:
            saved = await costs.save_import_cost(workspace_id, import_id, form)
            change.note("import_cost.changed", "import", import_id, {"file": saved["filename"],
                                                                     "data_cost": str(saved["data_cost"])})
        return await _costs_page(request, workspace_id, viewer, "Import data cost saved.")

    @post("/costs/extras")
    async def add_extra(self, request: Request, viewer: Viewer, workspace_id: int, redis: Redis) -> Template:
        form = await _costs_form(request, workspace_id, viewer, ("extra", 0))
        async with audit.change(redis, workspace_id, actor_of(request)) as change:
            added = await costs.add_extra(workspace_id, form)
            change.note("cost.added", "cost", added["id"], {"name": added["name"], "amount": str(added["amount"]),
                                                            "recurrence": added["recurrence"]})
        return await _costs_page(request, workspace_id, viewer, f"Cost “{added['name']}” added.")

    @post("/costs/extras/{extra_id:int}/delete")
    async def delete_extra(self, request: Request, viewer: Viewer, workspace_id: int, extra_id: int,
                           redis: Redis) -> Template:
        async with audit.change(redis, workspace_id, actor_of(request)) as change:
            removed = await costs.delete_extra(workspace_id, extra_id)
            change.note("cost.removed", "cost", extra_id, {"name": removed["name"]})
        return await _costs_page(request, workspace_id, viewer, f"Cost “{removed['name']}” removed.")
