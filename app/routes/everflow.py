"""Analytics → Revenue → Everflow: the network's conversion records pulled on a schedule, reconciled with postbacks."""

from __future__ import annotations

from litestar import Controller, get
from litestar.response import Template

from app.routes.portals import section_context
from app.web.auth import signed_in


class EverflowController(Controller):
    path = "/analytics/revenue/everflow"
    guards = [signed_in]
    include_in_schema = False

    @get("/", name="everflow")
    async def index(self) -> Template:
        return Template("portal/section.html", context=section_context("analytics", "revenue"))
