"""Analytics → Tasks: the team's board of cards, moved by drag and drop or keyboard, live for every viewer."""

from __future__ import annotations

from litestar import Controller, get
from litestar.response import Template

from app.routes.portals import section_context
from app.web.auth import signed_in


class TaskBoardController(Controller):
    path = "/analytics/tasks"
    guards = [signed_in]
    include_in_schema = False

    @get("/", name="task_board")
    async def index(self) -> Template:
        return Template("portal/section.html", context=section_context("analytics", "tasks"))
