"""Analytics → ESP performance: each server side by side, per domain group and day, with drill-down."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get
from litestar.response import Stream, Template

from app.routes.portals import entering, section_context
from app.routes.revenue import chosen_period, csv_response
from app.services.accounts import Viewer
from app.services.analytics import performance
from app.services.analytics.periods import Period, period_from
from app.services.tracking.offers import workspace_settings
from app.web.auth import signed_in
from app.web.charts import line_chart

PAGE = "analytics/esp_performance/index.html"
SERVER_PAGE = "analytics/esp_performance/server.html"
DEFAULT_DAYS = 7
# What the trend charts draw for the compared servers: (title, the Trend's series).
TREND_CHARTS = (("Sent per day", "sent"), ("eCPM per day", "ecpm"), ("Complaint rate per day (%)", "complaint_rate"),
                ("Unique open rate per day (%)", "open_rate"))


def _compared_text(request: Request) -> str:
    """`?servers=1,2` as a link writes it, or one `servers` per ticked box as the compare form sends it."""
    return ",".join(request.query_params.getall("servers", []))


def _charts(trends: list[performance.Trend]) -> list[dict[str, Any]]:
    if not trends:
        return []
    labels = [day.isoformat() for day in trends[0].days]
    return [{"title": title, "testid": f"trend-{series}",
             "chart": line_chart(labels, [(trend.server.name, getattr(trend, series)) for trend in trends])}
            for title, series in TREND_CHARTS]


async def _page(workspace_id: int, period: Period, compared: list[int]) -> dict[str, Any]:
    trends = await performance.trends(workspace_id, period, compared) if len(compared) >= 2 else []
    return {
        "rows": await performance.matrix(workspace_id, period),
        "groups": await performance.by_domain_group(workspace_id, period, compared or None),
        "compared": compared, "compared_query": ",".join(str(server_id) for server_id in compared),
        "charts": _charts(trends), "most_compared": performance.MOST_COMPARED,
        "currency": (await workspace_settings(workspace_id))["currency"],
    }


class EspPerformanceController(Controller):
    path = "/analytics/esp-performance"
    guards = [signed_in]
    include_in_schema = False

    @get("/", name="esp_performance")
    async def index(self, request: Request, viewer: Viewer, workspace_id: int) -> Template:
        await entering(viewer, "analytics")
        period, errors = chosen_period(request, DEFAULT_DAYS)
        compared = await performance.compared_ids(workspace_id, _compared_text(request))
        return Template(PAGE, status_code=422 if errors else 200, context={
            **section_context("analytics", "esp-performance"), "period": period, "errors": errors,
            "form": dict(request.query_params), **await _page(workspace_id, period, compared)})

    @get("/export.csv", name="esp_performance_export")
    async def export(self, request: Request, workspace_id: int) -> Stream:
        period = period_from(request.query_params, DEFAULT_DAYS)
        return csv_response(performance.matrix_csv(workspace_id, period), "esp-performance", period)

    @get("/servers/{server_id:int}", name="esp_performance_server")
    async def server(self, request: Request, viewer: Viewer, workspace_id: int, server_id: int) -> Template:
        await entering(viewer, "analytics")
        server = await performance.server_of(workspace_id, server_id)
        period, errors = chosen_period(request, DEFAULT_DAYS)
        return Template(SERVER_PAGE, status_code=422 if errors else 200, context={
            **section_context("analytics", "esp-performance"), "period": period, "errors": errors,
            "form": dict(request.query_params), "server": server,
            "provisional": performance.provisional(server.kind, period),
            "campaigns": await performance.server_campaigns(workspace_id, period, server_id),
            "currency": (await workspace_settings(workspace_id))["currency"]})

