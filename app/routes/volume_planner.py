"""Analytics → Volume planner: a day-by-day plan per server and domain group that never exceeds a cap."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from litestar import Controller, Request, get, post
from litestar.exceptions import NotFoundException
from litestar.plugins.flash import flash
from litestar.response import Redirect, Stream, Template
from redis.asyncio import Redis

from app.routes.portals import entering, permitted, section_context
from app.services import audit, delivery_servers, warmup_plans
from app.services.accounts import Viewer
from app.services.analytics import applying, scenarios
from app.services.form_input import LARGEST_INTEGER
from app.web.auth import signed_in
from app.web.charts import line_chart
from app.web.downloads import csv_download
from app.web.pages import actor_of, submitted
from app.web.permissions import CHANGE

INDEX = "analytics/volume_planner/index.html"
SCENARIO = "analytics/volume_planner/scenario.html"
COMPARE = "analytics/volume_planner/compare.html"
BASE = "/analytics/volume-planner"
LARGEST_COMPARED = 4


async def _index_context(workspace_id: int, viewer: Viewer) -> dict[str, Any]:
    servers = await delivery_servers.servers(workspace_id)
    return {**section_context("analytics", "volume-planner"), "servers": servers,
            "plans": await warmup_plans.plans(workspace_id) if servers else [],
            "saved": await scenarios.saved(workspace_id), "can": permitted(viewer, CHANGE),
            "today": datetime.now(UTC).date(), "default_days": scenarios.DEFAULT_HORIZON,
            "currency": await scenarios.currency(workspace_id)}


def _scenario_context(scenario: dict, viewer: Viewer, currency: str, rules_first: list[str]) -> dict[str, Any]:
    result = scenarios.replanned(scenario)
    labels = [day.day.isoformat() for day in result.days]
    chart = line_chart(labels, [("Planned", [day.total for day in result.days]),
                                ("Target", [result.inputs.target] * len(result.days))])
    money = line_chart(labels, [("Expected revenue", [float(day.revenue) for day in result.days]),
                                ("Cost", [float(day.cost) for day in result.days])])
    return {**section_context("analytics", "volume-planner"), "scenario": scenario, "result": result,
            "chart": chart, "money_chart": money, "can": permitted(viewer, CHANGE, "routing.manage"),
            "currency": currency, "rules_first": rules_first,
            "server_days": [_per_server(day.sends) for day in result.days]}


def _per_server(sends: dict[tuple[int, str], int]) -> dict[int, int]:
    totals: dict[int, int] = {}
    for (server_id, _), count in sends.items():
        totals[server_id] = totals.get(server_id, 0) + count
    return totals


def _compared_ids(ids: list[str]) -> list[int]:
    picked = [int(text) for text in ids if text.isdigit() and 0 < int(text) <= LARGEST_INTEGER]
    if len(picked) != len(ids):
        raise NotFoundException("There is no such scenario.")
    return picked[:LARGEST_COMPARED]


class VolumePlannerController(Controller):
    path = BASE
    guards = [signed_in]
    include_in_schema = False

    @get("/", name="volume_planner")
    async def index(self, viewer: Viewer, workspace_id: int) -> Template:
        await entering(viewer, "analytics")
        return Template(INDEX, context={**await _index_context(workspace_id, viewer), "form": {}, "errors": {}})

    @post("/scenarios")
    async def run(self, request: Request, viewer: Viewer, workspace_id: int, redis: Redis) -> Redirect:
        form = await submitted(request, INDEX, lambda: _index_context(workspace_id, viewer))
        async with audit.change(redis, workspace_id, actor_of(request)) as change:
            scenario = await scenarios.run(workspace_id, form, viewer.email)
            change.note("volume_plan.saved", "volume_plan", scenario["id"], {"name": scenario["name"]})
        return Redirect(f"{BASE}/scenarios/{scenario['id']}", status_code=303)

    @get("/scenarios/{scenario_id:int}", name="volume_scenario")
    async def show(self, viewer: Viewer, workspace_id: int, scenario_id: int) -> Template:
        scenario = await scenarios.get_scenario(workspace_id, scenario_id)
        return Template(SCENARIO, context=_scenario_context(scenario, viewer, await scenarios.currency(workspace_id),
                                                            await applying.rules_matched_first(workspace_id)))

    @get("/scenarios/{scenario_id:int}/plan.csv")
    async def export(self, workspace_id: int, scenario_id: int) -> Stream:
        scenario = await scenarios.get_scenario(workspace_id, scenario_id)
        return csv_download(scenarios.plan_csv(workspace_id, scenario_id), f"volume-plan-{scenario['id']}.csv")

    @post("/scenarios/{scenario_id:int}/apply", opt={"action": "routing.manage"})
    async def apply(self, request: Request, viewer: Viewer, workspace_id: int, scenario_id: int,
                    redis: Redis) -> Redirect:
        async with audit.change(redis, workspace_id, actor_of(request)) as change:
            scenario = await scenarios.get_scenario(workspace_id, scenario_id)
            applied = await applying.apply(workspace_id, scenario_id, viewer.email)
            change.note("volume_plan.applied", "volume_plan", scenario_id, applied.details(scenario["name"]))
        flash(request, f"Plan “{scenario['name']}” applied: server weights, {len(applied.rules)} routing rule(s) "
                       f"and {len(applied.warmups)} warm-up assignment(s) changed.", "success")
        return Redirect(f"{BASE}/scenarios/{scenario_id}", status_code=303)

    @post("/scenarios/{scenario_id:int}/delete")
    async def delete(self, request: Request, workspace_id: int, scenario_id: int, redis: Redis) -> Redirect:
        async with audit.change(redis, workspace_id, actor_of(request)) as change:
            deleted = await scenarios.delete(workspace_id, scenario_id)
            change.note("volume_plan.deleted", "volume_plan", scenario_id, {"name": deleted["name"]})
        flash(request, f"Scenario “{deleted['name']}” deleted.", "info")
        return Redirect(BASE, status_code=303)

    @get("/compare", name="volume_compare")
    async def compare(self, workspace_id: int, ids: list[str] | None = None) -> Template:
        chosen = await scenarios.compared(workspace_id, _compared_ids(ids or []))
        longest = max((len(s["plan"]) for s in chosen), default=0)
        labels = next((([day["day"] for day in s["plan"]]) for s in chosen if len(s["plan"]) == longest), [])
        chart = line_chart(labels, [(s["name"], [day["total"] for day in s["plan"]]) for s in chosen])
        return Template(COMPARE, context={**section_context("analytics", "volume-planner"), "chosen": chosen,
                                          "chart": chart, "currency": await scenarios.currency(workspace_id)})
