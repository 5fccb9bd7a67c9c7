"""Analytics → Revenue: conversions by campaign, offer, server, list, segment and automation step."""

from __future__ import annotations

from litestar import Controller, get
from litestar.response import Template

from app.routes.portals import section_context
from app.web.auth import signed_in


class RevenueController(Controller):
    path = "/analytics/revenue"
    guards = [signed_in]
    include_in_schema = False

    @get("/", name="revenue")
    async def index(self) -> Template:
        return Template("portal/section.html", context=section_context("analytics", "revenue"))
