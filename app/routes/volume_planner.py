"""Analytics → Volume planner: a day-by-day plan per server and domain group that never exceeds a cap."""

from __future__ import annotations

from litestar import Controller, get
from litestar.response import Template

from app.routes.portals import section_context
from app.web.auth import signed_in


class VolumePlannerController(Controller):
    path = "/analytics/volume-planner"
    guards = [signed_in]
    include_in_schema = False

    @get("/", name="volume_planner")
    async def index(self) -> Template:
        return Template("portal/section.html", context=section_context("analytics", "volume-planner"))
