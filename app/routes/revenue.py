"""Analytics → Revenue: conversions by campaign, offer, server, list, segment and automation step."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get
from litestar.exceptions import NotFoundException
from litestar.response import Stream, Template

from app.routes.portals import entering, permitted, section_context
from app.services.accounts import Viewer
from app.services.analytics import revenue
from app.services.analytics.periods import Period, last_days, period_from
from app.services.forms import FormError
from app.services.tracking.offers import workspace_settings
from app.web.auth import signed_in
from app.web.charts import line_chart
from app.web.downloads import csv_download

PAGE = "analytics/revenue/index.html"
DEFAULT_DAYS = 30
TABLES = ("campaign", "offer", "server", "list", "segment", "step")


def chosen_period(request: Request, default_days: int = DEFAULT_DAYS) -> tuple[Period, dict[str, str]]:
    """The period the query asks for, or the default one with the message for the field at fault."""
    try:
        return period_from(request.query_params, default_days), {}
    except FormError as refused:
        return last_days(default_days), refused.errors


def csv_response(chunks: Any, name: str, period: Period) -> Stream:
    """A table of the period as a CSV file named for it."""
    return csv_download(chunks, f"{name}-{period.since}-{period.until}.csv")


async def _context(workspace_id: int, period: Period) -> dict[str, Any]:
    days = await revenue.breakdown(workspace_id, period, "day")
    return {
        "totals": await revenue.totals(workspace_id, period),
        "tables": {by: await revenue.breakdown(workspace_id, period, by, limit=revenue.TOP) for by in TABLES},
        "titles": {by: revenue.DIMENSIONS[by].title for by in TABLES},
        "chart": line_chart([row.label for row in days], [("Revenue", [float(row.revenue) for row in days])]),
        "currency": (await workspace_settings(workspace_id))["currency"],
    }


class RevenueController(Controller):
    path = "/analytics/revenue"
    guards = [signed_in]
    include_in_schema = False

    @get("/", name="revenue")
    async def index(self, request: Request, viewer: Viewer, workspace_id: int) -> Template:
        await entering(viewer, "analytics")
        period, errors = chosen_period(request)
        return Template(PAGE, status_code=422 if errors else 200, context={
            **section_context("analytics", "revenue"), "period": period, "errors": errors,
            "can": permitted(viewer, "tracking.manage"),
            "form": dict(request.query_params), **await _context(workspace_id, period)})

    @get("/export.csv", name="revenue_export")
    async def export(self, request: Request, workspace_id: int, by: str = "campaign") -> Stream:
        if by not in revenue.DIMENSIONS:
            raise NotFoundException("There is no such table.")
        period = period_from(request.query_params, DEFAULT_DAYS)
        return csv_response(revenue.breakdown_csv(workspace_id, period, by), f"revenue-by-{by}", period)
