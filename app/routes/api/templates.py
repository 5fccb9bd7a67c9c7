"""Templates through the API (`campaigns:manage`): list, get, create, update, delete (archive).

Saving goes through the library's one check: the HTML sanitised by the same allow-list as the editor's, the
template compiled and rendered once under a budget; `removed_on_save` says what sanitising took out.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from litestar import Request, delete, get, post, put
from litestar.params import Parameter
from msgspec import Struct
from redis.asyncio import Redis

from app.routes.api.common import Cursor, Limit, id_after, page_limit, page_of, shaped
from app.services import audit, templates
from app.web.api_auth import ApiCaller, ApiController, api_actor, error_responses
from app.web.api_pages import Page

SCOPE = {"scope": "campaigns:manage"}

Archived = Annotated[bool, Parameter(description="List the archived templates instead.")]


class TemplateInput(Struct):
    name: str
    html: str
    subject: str = ""
    preheader: str = ""
    category: str = ""
    text_part: str | None = None


class TemplateSummary(Struct):
    id: int
    name: str
    category: str
    subject: str
    version: int
    created_at: datetime
    updated_at: datetime
    archived_at: datetime | None


class TemplateOut(Struct):
    id: int
    name: str
    category: str
    subject: str
    preheader: str
    html: str
    text_part: str | None
    version: int
    # What sanitising removed from the HTML the last time it was saved.
    removed_on_save: list[Any]
    created_at: datetime
    updated_at: datetime
    archived_at: datetime | None


def _raw(data: TemplateInput) -> dict[str, Any]:
    return {name: getattr(data, name) for name in data.__struct_fields__}


class TemplateApi(ApiController):
    path = "/api/v1/templates"
    tags = ["templates"]

    @get("/", opt=SCOPE, operation_id="listTemplates", summary="List templates",
         description="Scope `campaigns:manage`. The library in id order, without the HTML; `archived=true` lists "
                     "the archived ones instead.", responses=error_responses(400, 403))
    async def index(self, caller: ApiCaller, limit: Limit = None, cursor: Cursor = None,
                    archived: Archived = False) -> Page[TemplateSummary]:
        size = page_limit(limit)
        rows = await templates.templates_page(caller.workspace_id, id_after(cursor), size + 1, archived)
        return page_of(rows, size, TemplateSummary)

    @post("/", opt=SCOPE, operation_id="createTemplate", summary="Create a template",
          description="Scope `campaigns:manage`. The HTML is sanitised and the template rendered once; a merge tag "
                      "or syntax problem is a 422 naming the field.", responses=error_responses(400, 403, 422))
    async def create(self, request: Request, caller: ApiCaller, data: TemplateInput, redis: Redis) -> TemplateOut:
        async with audit.change(redis, caller.workspace_id, api_actor(caller, request)) as change:
            created = await templates.create_template(caller.workspace_id, _raw(data), None)
            change.note("template.created", "template", created["id"], {"api": True})
        # Read back for its JSON columns decoded (a RETURNING row has them as text).
        return shaped(await templates.template_of(caller.workspace_id, created["id"]), TemplateOut)

    @get("/{template_id:int}", opt=SCOPE, operation_id="getTemplate", summary="Get a template",
         description="Scope `campaigns:manage`.", responses=error_responses(403, 404))
    async def show(self, caller: ApiCaller, template_id: int) -> TemplateOut:
        return shaped(await templates.template_of(caller.workspace_id, template_id), TemplateOut)

    @put("/{template_id:int}", opt=SCOPE, operation_id="updateTemplate", summary="Update a template",
         description="Scope `campaigns:manage`. Stores the values as the template's next version, checked like a "
                     "create; campaigns already launched keep the content they snapshotted.",
         responses=error_responses(400, 403, 404, 422))
    async def update(self, request: Request, caller: ApiCaller, template_id: int, data: TemplateInput,
                     redis: Redis) -> TemplateOut:
        await templates.template_of(caller.workspace_id, template_id)
        # Checked (compiled and rendered on a render thread) before the transaction opens.
        checked = await templates.checked_template(_raw(data))
        async with audit.change(redis, caller.workspace_id, api_actor(caller, request)) as change:
            saved = await templates.save_template(caller.workspace_id, template_id, checked)
            change.note("template.saved", "template", template_id,
                        {"version": saved["version"], "removed": len(checked.removed)})
        return shaped(await templates.template_of(caller.workspace_id, template_id), TemplateOut)

    @delete("/{template_id:int}", opt=SCOPE, operation_id="deleteTemplate", summary="Delete (archive) a template",
            description="Scope `campaigns:manage`. The template is archived, as the library's Archive does: gone "
                        "from the library and from new campaigns, kept for the drafts and reports that name it.",
            responses=error_responses(403, 404))
    async def remove(self, request: Request, caller: ApiCaller, template_id: int, redis: Redis) -> None:
        async with audit.change(redis, caller.workspace_id, api_actor(caller, request)) as change:
            await templates.set_archived(caller.workspace_id, template_id, True)
            change.note("template.archived", "template", template_id)


CONTROLLERS = [TemplateApi]
