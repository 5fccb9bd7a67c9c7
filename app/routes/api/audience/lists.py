"""Lists and their custom fields through the API (scope `lists:manage`)."""

from __future__ import annotations

from litestar import Request, delete, get, patch, post
from redis.asyncio import Redis

from app.db.audience import ListField
from app.routes.api.audience.common import LISTS, after_id, audited, list_of, next_cursor, unset_removed
from app.routes.api.audience.shapes import (
    FieldIn,
    FieldOut,
    FieldPatch,
    ListIn,
    ListOut,
    ListPatch,
    field_out,
    list_out,
)
from app.services import custom_fields, lists
from app.services.tenancy import row_id
from app.web.api_auth import ApiCaller, ApiController, error_responses
from app.web.api_pages import Page, page_limit


async def _field_of(workspace_id: int, list_id: int, field_id: int) -> dict:
    await list_of(workspace_id, list_id)
    found = next((f for f in await custom_fields.fields_of(workspace_id, list_id)
                  if row_id(ListField, field_id) == f["id"]), None)
    if found is None:
        raise LookupError("field")
    return found


class ListsController(ApiController):
    path = "/api/v1/lists"
    tags = ["lists"]

    @get("/", summary="List the lists", operation_id="listLists", opt={"scope": LISTS},
         responses=error_responses(400, 403),
         description="Every list of the workspace (archived ones too) with its counters, by id. Scope `lists:manage`.")
    async def index(self, caller: ApiCaller, limit: int | None = None, cursor: str | None = None) -> Page[ListOut]:
        size = page_limit(limit)
        rows = await lists.lists_after(caller.workspace_id, after_id(cursor), size)
        return Page([list_out(row, row) for row in rows], next_cursor(rows, size))

    @get("/{list_id:int}", summary="Get a list", operation_id="getList", opt={"scope": LISTS},
         responses=error_responses(400, 403, 404),
         description="The list's settings and its subscribers by status. Scope `lists:manage`.")
    async def show(self, caller: ApiCaller, list_id: int) -> ListOut:
        row = await list_of(caller.workspace_id, list_id)
        return list_out(row, await lists.counters(caller.workspace_id, list_id))

    @post("/", summary="Create a list", operation_id="createList", opt={"scope": LISTS},
          responses=error_responses(400, 403, 422),
          description="A new list; its name must be unused in the workspace. Scope `lists:manage`.")
    async def create(self, request: Request, caller: ApiCaller, redis: Redis, data: ListIn) -> ListOut:
        async with audited(request, caller, redis) as change:
            row = await lists.create_list(caller.workspace_id, unset_removed(data))
            change.note("list.created", "list", row["id"], {"name": row["name"]})
        return list_out(row, {})

    @patch("/{list_id:int}", summary="Update a list", operation_id="updateList", opt={"scope": LISTS},
           responses=error_responses(400, 403, 404, 422),
           description="Changes the settings given and keeps the others; `archived` archives or restores the "
                       "list. Scope `lists:manage`.")
    async def update(self, request: Request, caller: ApiCaller, redis: Redis, list_id: int, data: ListPatch
                     ) -> ListOut:
        current = await list_of(caller.workspace_id, list_id)
        changes = unset_removed(data)
        archived = changes.pop("archived", None)
        async with audited(request, caller, redis) as change:
            row = await lists.update_list(caller.workspace_id, list_id,
                                          {**{key: current[key] for key in lists.EDITABLE}, **changes})
            change.note("list.updated", "list", list_id)
            if archived is not None:
                await lists.set_archived(caller.workspace_id, list_id, archived)
                change.note("list.archived" if archived else "list.unarchived", "list", list_id)
                row = await list_of(caller.workspace_id, list_id)
        return list_out(row, await lists.counters(caller.workspace_id, list_id))

    @delete("/{list_id:int}", summary="Delete a list", operation_id="deleteList", opt={"scope": LISTS},
            responses=error_responses(400, 403, 404),
            description="Deletes the list with its subscribers and fields. Scope `lists:manage`.")
    async def remove(self, request: Request, caller: ApiCaller, redis: Redis, list_id: int) -> None:
        async with audited(request, caller, redis) as change:
            deleted = await lists.delete_list(caller.workspace_id, list_id)
            change.note("list.deleted", "list", list_id, {"name": deleted["name"]})

    @get("/{list_id:int}/fields", summary="List a list's custom fields", operation_id="listFields",
         opt={"scope": LISTS}, responses=error_responses(400, 403, 404),
         description="The custom fields of the list in their order. Scope `lists:manage`.")
    async def fields(self, caller: ApiCaller, list_id: int) -> list[FieldOut]:
        await list_of(caller.workspace_id, list_id)
        return [field_out(row) for row in await custom_fields.fields_of(caller.workspace_id, list_id)]

    @post("/{list_id:int}/fields", summary="Add a custom field", operation_id="createField", opt={"scope": LISTS},
          responses=error_responses(400, 403, 404, 422),
          description="A new field of the list; subscribers' values are kept under its merge tag. "
                      "Scope `lists:manage`.")
    async def add_field(self, request: Request, caller: ApiCaller, redis: Redis, list_id: int, data: FieldIn
                        ) -> FieldOut:
        await list_of(caller.workspace_id, list_id)
        values = {**unset_removed(data), "options": "\n".join(data.options)}
        async with audited(request, caller, redis) as change:
            row = await custom_fields.add_field(caller.workspace_id, list_id, values)
            change.note("field.created", "field", row["id"], {"tag": row["tag"]})
        return field_out(row)

    @patch("/{list_id:int}/fields/{field_id:int}", summary="Update a custom field", operation_id="updateField",
           opt={"scope": LISTS}, responses=error_responses(400, 403, 404, 422),
           description="Changes what is given; the merge tag never changes (subscribers' values are kept under "
                       "it). Scope `lists:manage`.")
    async def update_field(self, request: Request, caller: ApiCaller, redis: Redis, list_id: int, field_id: int,
                           data: FieldPatch) -> FieldOut:
        current = await _field_of(caller.workspace_id, list_id, field_id)
        values = {**current, **unset_removed(data)}
        values["options"] = "\n".join(values["options"])
        async with audited(request, caller, redis) as change:
            row = await custom_fields.update_field(caller.workspace_id, current["id"], values)
            change.note("field.updated", "field", current["id"])
        return field_out(row)

    @delete("/{list_id:int}/fields/{field_id:int}", summary="Delete a custom field", operation_id="deleteField",
            opt={"scope": LISTS}, responses=error_responses(400, 403, 404),
            description="Removes the field from the list. Scope `lists:manage`.")
    async def remove_field(self, request: Request, caller: ApiCaller, redis: Redis, list_id: int, field_id: int
                           ) -> None:
        current = await _field_of(caller.workspace_id, list_id, field_id)
        async with audited(request, caller, redis) as change:
            await custom_fields.delete_field(caller.workspace_id, current["id"])
            change.note("field.deleted", "field", current["id"], {"tag": current["tag"]})
