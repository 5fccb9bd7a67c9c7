"""Analytics → ESP performance: each server side by side, per domain group and day, with drill-down."""

from __future__ import annotations

from litestar import Controller, get
from litestar.response import Template

from app.routes.portals import section_context
from app.web.auth import signed_in


class EspPerformanceController(Controller):
    path = "/analytics/esp-performance"
    guards = [signed_in]
    include_in_schema = False

    @get("/", name="esp_performance")
    async def index(self) -> Template:
        return Template("portal/section.html", context=section_context("analytics", "esp-performance"))
