"""Analytics → P&L: revenue against ESP and data costs, per day, campaign, server and list, and the costs behind it."""

from __future__ import annotations

from litestar import Controller, get
from litestar.response import Template

from app.routes.portals import section_context
from app.web.auth import signed_in


class PnlController(Controller):
    path = "/analytics/pnl"
    guards = [signed_in]
    include_in_schema = False

    @get("/", name="pnl")
    async def index(self) -> Template:
        return Template("portal/section.html", context=section_context("analytics", "pnl"))
