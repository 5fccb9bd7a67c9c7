"""Analytics → Intelligence: engagement, churn risk, best hours, content learnings, list health, recommendations."""

from __future__ import annotations

from litestar import Controller, get
from litestar.response import Template

from app.routes.portals import section_context
from app.web.auth import signed_in


class IntelligenceController(Controller):
    path = "/analytics/intelligence"
    guards = [signed_in]
    include_in_schema = False

    @get("/", name="intelligence")
    async def index(self) -> Template:
        return Template("portal/section.html", context=section_context("analytics", "intelligence"))
