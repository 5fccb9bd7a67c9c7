"""Analytics → Intelligence: engagement, churn risk, best hours, content learnings, list health, recommendations."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from litestar import Controller, Request, get, post
from litestar.plugins.flash import flash
from litestar.response import Redirect, Stream, Template
from redis.asyncio import Redis

from app.routes.portals import entering, permitted, section_context
from app.services import audit
from app.services.accounts import Viewer
from app.services.analytics.intelligence import at_risk, churn, hours, learnings, list_health, recommendations, scores
from app.services.analytics.periods import Period, last_days, period_from
from app.services.forms import FormError
from app.tasks.intelligence import refresh_workspace_intelligence
from app.web.auth import signed_in
from app.web.charts import bars, heat_cells, line_chart
from app.web.downloads import csv_download
from app.web.pages import actor_of
from app.web.permissions import CHANGE

PAGE = "analytics/intelligence/index.html"
HOURS_DAYS = 28


def _choices(request: Request) -> tuple[Period, int, dict[str, str]]:
    """The heatmap's period and the lowest risk listed, or their defaults with a message for each field at fault."""
    errors: dict[str, str] = {}
    try:
        period = period_from(request.query_params, HOURS_DAYS)
    except FormError as refused:
        period, errors = last_days(HOURS_DAYS), {**errors, **refused.errors}
    try:
        min_risk = at_risk.min_risk_from(request.query_params)
    except FormError as refused:
        min_risk, errors = at_risk.DEFAULT_MIN_RISK, {**errors, **refused.errors}
    return period, min_risk, errors


async def _context(workspace_id: int, period: Period, min_risk: int, after: str | None) -> dict[str, Any]:
    today = datetime.now(UTC).date()
    model = await churn.latest_model(workspace_id)
    distribution = await scores.distribution(workspace_id)
    heatmap = await hours.best_hours(workspace_id, period)
    recent = await learnings.recent(workspace_id)
    lists = await list_health.lists_health(workspace_id, today)
    at_risk_count = await at_risk.count_at_risk(workspace_id, recommendations.HIGH_RISK_PERCENT)
    scored = await at_risk.any_scored(workspace_id)
    history_start = None if scored else await churn.history_start(workspace_id)
    return {
        "model": model, "drivers": churn.drivers(model) if model else [],
        "at_risk": await at_risk.at_risk_page(workspace_id, min_risk, at_risk.cursor_of(after)),
        "at_risk_count": await at_risk.count_at_risk(workspace_id, min_risk), "min_risk": min_risk, "after": after,
        "scored": scored, "history_start": history_start, "today": today,
        "first_training_day": history_start + timedelta(days=churn.HORIZON_DAYS) if history_start else None,
        "distribution": distribution,
        "distribution_bars": bars([(band.label, band.subscribers) for band in distribution.bands])
        if distribution else [],
        "trend": line_chart([day.isoformat() for day, _ in distribution.trend],
                            [("Mean engagement score", [mean for _, mean in distribution.trend])])
        if distribution else None,
        "heatmap": heatmap, "heat_cells": heat_cells(heatmap.grid), "days": hours.DAYS,
        "hour_labels": [f"{hour:02d}" if hour % 3 == 0 else "" for hour in range(24)],
        "learnings": recent, "lists": lists,
        "recommendations": recommendations.recommend(
            lists, distribution, heatmap, model, at_risk_count, learnings.significant_wins(recent),
            await recommendations.sending_30_days(workspace_id, today)),
        "period": period,
    }


class IntelligenceController(Controller):
    path = "/analytics/intelligence"
    guards = [signed_in]
    include_in_schema = False

    @get("/", name="intelligence")
    async def index(self, request: Request, viewer: Viewer, workspace_id: int, after: str | None = None) -> Template:
        await entering(viewer, "analytics")
        period, min_risk, errors = _choices(request)
        return Template(PAGE, status_code=422 if errors else 200, context={
            **section_context("analytics", "intelligence"), "errors": errors, "form": dict(request.query_params),
            "can": permitted(viewer, CHANGE, "export"), **await _context(workspace_id, period, min_risk, after)})

    @get("/at-risk.csv", name="intelligence_at_risk_export", opt={"action": "export"})
    async def export(self, request: Request, workspace_id: int, redis: Redis) -> Stream:
        min_risk = at_risk.min_risk_from(request.query_params)
        await audit.record(redis, workspace_id, actor_of(request), "churn_risk.exported",
                           details={"min_risk": min_risk})
        return csv_download(at_risk.at_risk_csv(workspace_id, min_risk), f"churn-risk-{min_risk}.csv")

    @post("/retrain")
    async def retrain(self, request: Request, workspace_id: int, redis: Redis) -> Redirect:
        refresh_workspace_intelligence.send(workspace_id)
        await audit.record(redis, workspace_id, actor_of(request), "churn_model.retrain_requested")
        flash(request, "Retraining: the model, its AUC and every subscriber's risk update here in a few minutes.",
              "info")
        return Redirect("/analytics/intelligence", status_code=303)
