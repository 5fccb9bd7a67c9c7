"""Analytics → Data imports: every import into the workspace, page by page, with its health."""

from __future__ import annotations

from litestar import Controller, get
from litestar.response import Template

from app.routes.portals import entering, section_context
from app.services import data_imports
from app.services.accounts import Viewer
from app.web.auth import signed_in


class DataImportsController(Controller):
    path = "/analytics/data-imports"
    guards = [signed_in]
    include_in_schema = False

    @get("/", name="data_imports")
    async def index(self, viewer: Viewer, workspace_id: int, before: int | None = None) -> Template:
        await entering(viewer, "analytics")
        return Template("analytics/data_imports.html", context={
            **section_context("analytics", "data-imports"), "before": before,
            "page": await data_imports.import_page(workspace_id, before_id=before),
        })
