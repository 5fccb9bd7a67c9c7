"""Lists, custom fields, subscribers, imports and GDPR export/erase through the API.

Every handler parses, calls the service the UI calls, and shapes the answer; ids from the path or body are
looked up in the caller's workspace, so another workspace's list or subscriber is a 404.
"""

from __future__ import annotations

import json
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from litestar import Request, Response, delete, get, patch, post
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import OpenAPIFormat, OpenAPIMediaType, OpenAPIType, Operation, RequestBody, Schema
from msgspec import UNSET, Meta, Struct, UnsetType
from redis.asyncio import Redis

from app.db.audience import ListField
from app.routes.imports import UPLOAD_MAX_BYTES
from app.services import audit, custom_fields, imports, lists, opt_outs, privacy, subscriber_actions, subscribers
from app.services.forms import FormError
from app.services.imports import ImportProblem
from app.services.subscriber_actions import BulkOrder
from app.services.subscribers import SubscriberError, SubscriberFilter
from app.services.subscribers.bulk import MAX_ROWS, RowResult, cell_text, form_fields, upsert_many
from app.services.subscribers.search import subscribers_after
from app.services.tenancy import row_id
from app.tasks.imports import run_import
from app.web.api_auth import ApiCaller, ApiController, error_responses
from app.web.api_pages import Page, decode_cursor, encode_cursor, page_limit
from app.web.errors import ApiError

LISTS, SUBSCRIBERS_READ, SUBSCRIBERS_WRITE = "lists:manage", "subscribers:read", "subscribers:write"
# PostgreSQL text cannot hold NUL: such input is refused as malformed, never sent to the database.
NO_NUL = r"^[^\x00]*$"
Text = Annotated[str, Meta(max_length=2000, pattern=NO_NUL)]
Word = Annotated[str, Meta(max_length=64, pattern=NO_NUL)]
Tag = Annotated[str, Meta(min_length=1, max_length=64, pattern=NO_NUL)]
Email = Annotated[str, Meta(max_length=320, pattern=NO_NUL)]


# --- shapes ---------------------------------------------------------------------------------------------------

class ListCounts(Struct):
    total: int
    confirmed: int
    unconfirmed: int
    unsubscribed: int
    bounced: int
    complained: int
    blacklisted: int


class ListOut(Struct):
    id: int
    name: str
    display_name: str
    description: str
    from_name: str
    from_email: str
    reply_to: str
    company_name: str
    company_address: str
    opt_in: str
    opt_out: str
    welcome_email: bool
    require_approval: bool
    archived: bool
    created_at: datetime | None
    updated_at: datetime | None
    counts: ListCounts


class ListIn(Struct):
    name: Text
    display_name: Text = ""
    description: Text = ""
    from_name: Text = ""
    from_email: Text = ""
    reply_to: Text = ""
    company_name: Text = ""
    company_address: Text = ""
    opt_in: Annotated[Word, Meta(description="single or double")] = "single"
    opt_out: Annotated[Word, Meta(description="single or double")] = "single"
    welcome_email: bool = False
    require_approval: bool = False


class ListPatch(Struct):
    name: Text | UnsetType = UNSET
    display_name: Text | UnsetType = UNSET
    description: Text | UnsetType = UNSET
    from_name: Text | UnsetType = UNSET
    from_email: Text | UnsetType = UNSET
    reply_to: Text | UnsetType = UNSET
    company_name: Text | UnsetType = UNSET
    company_address: Text | UnsetType = UNSET
    opt_in: Word | UnsetType = UNSET
    opt_out: Word | UnsetType = UNSET
    welcome_email: bool | UnsetType = UNSET
    require_approval: bool | UnsetType = UNSET
    archived: bool | UnsetType = UNSET


class FieldOut(Struct):
    id: int
    list_id: int
    label: str
    tag: str
    kind: str
    required: bool
    visible: bool
    default_value: str
    options: list[str]
    position: int


class FieldIn(Struct):
    label: Text
    tag: Annotated[Word, Meta(description="merge tag; made from the label when empty")] = ""
    kind: Annotated[Word, Meta(description=", ".join(custom_fields.KINDS))] = "text"
    required: bool = False
    visible: bool = True
    default_value: Text = ""
    options: list[Text] = []


class FieldPatch(Struct):
    label: Text | UnsetType = UNSET
    kind: Word | UnsetType = UNSET
    required: bool | UnsetType = UNSET
    visible: bool | UnsetType = UNSET
    default_value: Text | UnsetType = UNSET
    options: list[Text] | UnsetType = UNSET


class SubscriberOut(Struct):
    id: int
    list_id: int
    email: str
    status: str
    fields: dict[str, Any]
    source: str
    timezone: str
    engagement_score: int
    created_at: datetime | None
    updated_at: datetime | None
    confirmed_at: datetime | None
    unsubscribed_at: datetime | None
    last_open_at: datetime | None
    last_click_at: datetime | None
    tags: list[str] | None = None


class SubscriberIn(Struct):
    list_id: int
    email: Email
    fields: dict[str, Any] = {}
    status: Annotated[Word, Meta(description="for a new subscriber; an existing one keeps its status")] = "confirmed"
    tags: list[Tag] = []


class SubscriberPatch(Struct):
    email: Email | UnsetType = UNSET
    fields: Annotated[dict[str, Any], Meta(description="merged into the stored values; null removes one")] \
        | UnsetType = UNSET
    status: Word | UnsetType = UNSET
    add_tags: list[Tag] = []
    remove_tags: list[Tag] = []


class BulkRow(Struct):
    email: Email
    fields: dict[str, Any] = {}


class BulkIn(Struct):
    list_id: int
    subscribers: Annotated[list[BulkRow], Meta(max_length=MAX_ROWS)]
    status: Annotated[Word, Meta(description="for new subscribers; existing ones keep theirs")] = "confirmed"


class RowError(Struct):
    code: str
    message: str


class BulkResult(Struct):
    index: int
    email: str
    id: int | None = None
    outcome: Annotated[str, Meta(description="created, updated or unchanged")] | None = None
    error: RowError | None = None


class BulkOut(Struct):
    created: int
    updated: int
    unchanged: int
    refused: int
    results: list[BulkResult]


class PersonIn(Struct):
    email: Email


class PersonExport(Struct):
    email: str
    subscriptions: list[dict[str, Any]]
    status_history: list[dict[str, Any]]
    tags: list[dict[str, Any]]
    events: list[dict[str, Any]]
    leads: list[dict[str, Any]]


class Erased(Struct):
    erased: int


class ImportOut(Struct):
    id: int
    list_id: int | None
    source: str
    filename: str
    mode: str
    status: str
    error: str
    percent: int
    total_bytes: int
    processed_bytes: int
    rows_seen: int
    inserted: int
    updated: int
    skipped_duplicate: int
    invalid: int
    suppressed: int
    created_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None


ColumnChoice = Annotated[Text, Meta(description='"email", "field:<tag>" or "" to skip the column')]


class S3ImportIn(Struct):
    location: Annotated[Text, Meta(description="s3://bucket/prefix/ or s3://bucket/key.csv")]
    region: Text = ""
    endpoint_url: Text = ""
    access_key_id: Text = ""
    secret_access_key: Text = ""
    mode: Annotated[Word, Meta(description=", ".join(imports.MODES))] = "add"
    status: Annotated[Word, Meta(description="confirmed or unconfirmed, for new subscribers")] = "confirmed"
    has_header: bool | None = None
    encoding: Text = ""
    delimiter: Text = ""
    columns: Annotated[dict[str, ColumnChoice], Meta(description="column number (from 0) to its target; "
                                                                 "the suggested mapping when absent")] | None = None
    suppression_list_id: int | None = None


# --- conversions ----------------------------------------------------------------------------------------------

def _list_out(row: dict, counts: dict[str, int]) -> ListOut:
    return ListOut(**{name: row[name] for name in ListOut.__struct_fields__ if name in row and name != "counts"},
                   archived=row["archived_at"] is not None,
                   counts=ListCounts(**{name: int(counts.get(name, 0)) for name in ListCounts.__struct_fields__}))


def _field_out(row: dict) -> FieldOut:
    # A row the service just wrote holds its options as JSON text; one it read holds them decoded.
    options = json.loads(row["options"]) if isinstance(row["options"], str) else row["options"]
    return FieldOut(**{name: row[name] for name in FieldOut.__struct_fields__ if name != "options"}, options=options)


def _subscriber_out(row: dict, tags: list[str] | None = None) -> SubscriberOut:
    return SubscriberOut(**{name: row[name] for name in SubscriberOut.__struct_fields__ if name != "tags"},
                         tags=tags)


def _import_out(row: dict) -> ImportOut:
    values = {**row, **imports.snapshot(row)}
    return ImportOut(**{name: values[name] for name in ImportOut.__struct_fields__})


def _bulk_result(result: RowResult) -> BulkResult:
    if result.code:
        return BulkResult(result.index, result.email, error=RowError(result.code, result.message))
    return BulkResult(result.index, result.email, id=result.id, outcome=result.outcome)


def api_fields(exc: FormError) -> FormError:
    """The service's form field names as the API names them (`field_city` is `fields.city`)."""
    return FormError({(f"fields.{key.removeprefix('field_')}" if key.startswith("field_") else key): message
                      for key, message in exc.errors.items()})


def _after_id(cursor: str | None) -> int | None:
    position = decode_cursor(cursor)
    if position is not None and (isinstance(position, bool) or not isinstance(position, int) or position < 0):
        raise ApiError(400, "invalid_cursor", "That cursor was not given by this API.", {"cursor": "invalid"})
    return position


def _next_cursor(rows: list[dict], limit: int) -> str | None:
    return encode_cursor(rows[-1]["id"]) if len(rows) == limit else None


def _actor(request: Request, caller: ApiCaller) -> audit.Actor:
    return audit.Actor(user_id=None, email=f"API key #{caller.key_id}", ip=request.client.host if request.client
                       else "")


def _audited(request: Request, caller: ApiCaller, redis: Redis) -> AbstractAsyncContextManager[audit.Change]:
    """A change and its audit entry in one transaction, by the key, as the UI records a person's."""
    return audit.change(redis, caller.workspace_id, _actor(request, caller))


async def _list_of(workspace_id: int, list_id: int) -> dict:
    found = await lists.get_list(workspace_id, list_id)
    if found is None:
        raise LookupError("list")
    return found


async def _field_of(workspace_id: int, list_id: int, field_id: int) -> dict:
    await _list_of(workspace_id, list_id)
    found = next((f for f in await custom_fields.fields_of(workspace_id, list_id)
                  if row_id(ListField, field_id) == f["id"]), None)
    if found is None:
        raise LookupError("field")
    return found


def _unset_removed(patch: Struct) -> dict[str, Any]:
    return {name: getattr(patch, name) for name in patch.__struct_fields__ if getattr(patch, name) is not UNSET}


# --- lists and their fields -----------------------------------------------------------------------------------

class ListsController(ApiController):
    path = "/api/v1/lists"
    tags = ["lists"]

    @get("/", summary="List the lists", operation_id="listLists", opt={"scope": LISTS},
         responses=error_responses(400, 403),
         description="Every list of the workspace (archived ones too) with its counters, by id. Scope `lists:manage`.")
    async def index(self, caller: ApiCaller, limit: int | None = None, cursor: str | None = None) -> Page[ListOut]:
        size = page_limit(limit)
        rows = await lists.lists_after(caller.workspace_id, _after_id(cursor), size)
        return Page([_list_out(row, row) for row in rows], _next_cursor(rows, size))

    @get("/{list_id:int}", summary="Get a list", operation_id="getList", opt={"scope": LISTS},
         responses=error_responses(400, 403, 404),
         description="The list's settings and its subscribers by status. Scope `lists:manage`.")
    async def show(self, caller: ApiCaller, list_id: int) -> ListOut:
        row = await _list_of(caller.workspace_id, list_id)
        return _list_out(row, await lists.counters(caller.workspace_id, list_id))

    @post("/", summary="Create a list", operation_id="createList", opt={"scope": LISTS},
          responses=error_responses(400, 403, 422),
          description="A new list; its name must be unused in the workspace. Scope `lists:manage`.")
    async def create(self, request: Request, caller: ApiCaller, redis: Redis, data: ListIn) -> ListOut:
        async with _audited(request, caller, redis) as change:
            row = await lists.create_list(caller.workspace_id, _unset_removed(data))
            change.note("list.created", "list", row["id"], {"name": row["name"]})
        return _list_out(row, {})

    @patch("/{list_id:int}", summary="Update a list", operation_id="updateList", opt={"scope": LISTS},
           responses=error_responses(400, 403, 404, 422),
           description="Changes the settings given and keeps the others; `archived` archives or restores the "
                       "list. Scope `lists:manage`.")
    async def update(self, request: Request, caller: ApiCaller, redis: Redis, list_id: int, data: ListPatch
                     ) -> ListOut:
        current = await _list_of(caller.workspace_id, list_id)
        changes = _unset_removed(data)
        archived = changes.pop("archived", None)
        async with _audited(request, caller, redis) as change:
            row = await lists.update_list(caller.workspace_id, list_id,
                                          {**{key: current[key] for key in lists.EDITABLE}, **changes})
            change.note("list.updated", "list", list_id)
            if archived is not None:
                await lists.set_archived(caller.workspace_id, list_id, archived)
                change.note("list.archived" if archived else "list.unarchived", "list", list_id)
                row = await _list_of(caller.workspace_id, list_id)
        return _list_out(row, await lists.counters(caller.workspace_id, list_id))

    @delete("/{list_id:int}", summary="Delete a list", operation_id="deleteList", opt={"scope": LISTS},
            responses=error_responses(400, 403, 404),
            description="Deletes the list with its subscribers and fields. Scope `lists:manage`.")
    async def remove(self, request: Request, caller: ApiCaller, redis: Redis, list_id: int) -> None:
        async with _audited(request, caller, redis) as change:
            deleted = await lists.delete_list(caller.workspace_id, list_id)
            change.note("list.deleted", "list", list_id, {"name": deleted["name"]})

    @get("/{list_id:int}/fields", summary="List a list's custom fields", operation_id="listFields",
         opt={"scope": LISTS}, responses=error_responses(400, 403, 404),
         description="The custom fields of the list in their order. Scope `lists:manage`.")
    async def fields(self, caller: ApiCaller, list_id: int) -> list[FieldOut]:
        await _list_of(caller.workspace_id, list_id)
        return [_field_out(row) for row in await custom_fields.fields_of(caller.workspace_id, list_id)]

    @post("/{list_id:int}/fields", summary="Add a custom field", operation_id="createField", opt={"scope": LISTS},
          responses=error_responses(400, 403, 404, 422),
          description="A new field of the list; subscribers' values are kept under its merge tag. "
                      "Scope `lists:manage`.")
    async def add_field(self, request: Request, caller: ApiCaller, redis: Redis, list_id: int, data: FieldIn
                        ) -> FieldOut:
        await _list_of(caller.workspace_id, list_id)
        values = {**_unset_removed(data), "options": "\n".join(data.options)}
        async with _audited(request, caller, redis) as change:
            row = await custom_fields.add_field(caller.workspace_id, list_id, values)
            change.note("field.created", "field", row["id"], {"tag": row["tag"]})
        return _field_out(row)

    @patch("/{list_id:int}/fields/{field_id:int}", summary="Update a custom field", operation_id="updateField",
           opt={"scope": LISTS}, responses=error_responses(400, 403, 404, 422),
           description="Changes what is given; the merge tag never changes (subscribers' values are kept under "
                       "it). Scope `lists:manage`.")
    async def update_field(self, request: Request, caller: ApiCaller, redis: Redis, list_id: int, field_id: int,
                           data: FieldPatch) -> FieldOut:
        current = await _field_of(caller.workspace_id, list_id, field_id)
        values = {**current, **_unset_removed(data)}
        values["options"] = "\n".join(values["options"])
        async with _audited(request, caller, redis) as change:
            row = await custom_fields.update_field(caller.workspace_id, current["id"], values)
            change.note("field.updated", "field", current["id"])
        return _field_out(row)

    @delete("/{list_id:int}/fields/{field_id:int}", summary="Delete a custom field", operation_id="deleteField",
            opt={"scope": LISTS}, responses=error_responses(400, 403, 404),
            description="Removes the field from the list. Scope `lists:manage`.")
    async def remove_field(self, request: Request, caller: ApiCaller, redis: Redis, list_id: int, field_id: int
                           ) -> None:
        current = await _field_of(caller.workspace_id, list_id, field_id)
        async with _audited(request, caller, redis) as change:
            await custom_fields.delete_field(caller.workspace_id, current["id"])
            change.note("field.deleted", "field", current["id"], {"tag": current["tag"]})


# --- subscribers ----------------------------------------------------------------------------------------------

def _stored_form(row: dict) -> dict[str, str]:
    """The subscriber's stored values as its edit form holds them."""
    return {"email": row["email"], **{f"field_{tag}": cell_text(value) or "" for tag, value in row["fields"].items()}}


def _refusal(result: RowResult) -> ApiError | FormError:
    if result.code == "invalid":
        field = "email" if "email" in result.message.split(":")[0] else "fields"
        return FormError({field: result.message})
    return ApiError(409 if result.code == "conflict" else 422, result.code, result.message)


async def _retag(workspace_id: int, subscriber_id: int, add: list[str], remove: list[str]) -> None:
    """Tags added and removed through the bulk action's statements, as the subscriber table does it."""
    present = set(await subscribers.tags_of(workspace_id, subscriber_id))
    orders = [("tag", name) for name in add if name.strip() not in present]
    orders += [("untag", name) for name in remove if name.strip() in present]
    for action, name in orders:
        await subscriber_actions.apply(workspace_id, BulkOrder(action=action, scope="selection",
                                                               chosen=SubscriberFilter(), ids=[subscriber_id],
                                                               tag_name=name))


async def _unsubscribed(redis: Redis, workspace_id: int, subscriber_id: int) -> dict:
    """Unsubscribe the row, and tell sending processes so a batch already out stops before it (opt_outs)."""
    if await subscribers.set_status(workspace_id, subscriber_id, "unsubscribed", "api"):
        row = await subscribers.subscriber_of(workspace_id, subscriber_id)
        await opt_outs.announce(redis, workspace_id, [(row["list_id"], row["email"])])
    return await subscribers.subscriber_of(workspace_id, subscriber_id)


class SubscribersController(ApiController):
    path = "/api/v1/subscribers"
    tags = ["subscribers"]

    @get("/", summary="List subscribers", operation_id="listSubscribers", opt={"scope": SUBSCRIBERS_READ},
         responses=error_responses(400, 403, 404),
         description="Subscribers by id, narrowed by list, status, the start of the address and the time of the "
                     "last change. Scope `subscribers:read`.")
    async def index(self, caller: ApiCaller, list_id: int | None = None, status: str | None = None,
                    email_prefix: Email | None = None,
                    updated_since: datetime | None = None, limit: int | None = None,
                    cursor: str | None = None) -> Page[SubscriberOut]:
        size = page_limit(limit)
        if list_id is not None:
            await _list_of(caller.workspace_id, list_id)
        if status and status not in lists.STATUSES:
            raise ApiError(400, "invalid_status", f"status is one of {', '.join(lists.STATUSES)}.",
                           {"status": "unknown"})
        rows = await subscribers_after(caller.workspace_id, SubscriberFilter(list_id=list_id, status=status or ""),
                                       _after_id(cursor), size, email_prefix=email_prefix or "",
                                       updated_since=updated_since)
        return Page([_subscriber_out(row) for row in rows], _next_cursor(rows, size))

    @get("/by-email", summary="Find an address on every list", operation_id="getSubscribersByEmail",
         opt={"scope": SUBSCRIBERS_READ}, responses=error_responses(400, 403, 404),
         description="The subscriber of each list the address is on (one per list). Scope `subscribers:read`.")
    async def by_email(self, caller: ApiCaller, email: Email) -> list[SubscriberOut]:
        try:
            address = subscribers.normalized_email(email)
        except SubscriberError as exc:
            raise LookupError("subscriber") from exc
        found = [await subscribers.subscriber_of(caller.workspace_id, row["id"])
                 for row in await subscribers.memberships(caller.workspace_id, address)]
        if not found:
            raise LookupError("subscriber")
        return [_subscriber_out(row) for row in found]

    @get("/{subscriber_id:int}", summary="Get a subscriber", operation_id="getSubscriber",
         opt={"scope": SUBSCRIBERS_READ}, responses=error_responses(400, 403, 404),
         description="One subscriber with its fields and tags. Scope `subscribers:read`.")
    async def show(self, caller: ApiCaller, subscriber_id: int) -> SubscriberOut:
        row = await subscribers.subscriber_of(caller.workspace_id, subscriber_id)
        return _subscriber_out(row, await subscribers.tags_of(caller.workspace_id, row["id"]))

    @post("/", summary="Create or update a subscriber", operation_id="upsertSubscriber",
          opt={"scope": SUBSCRIBERS_WRITE}, responses={
              200: ResponseSpec(SubscriberOut, description="The address was on the list: its fields were merged.",
                                generate_examples=False),
              **error_responses(400, 403, 404, 409, 422)},
          description="Adds the address to the list (201), or merges the fields into the subscriber already there "
                      "(200; its status is kept). Validated like an import row; a suppressed address is refused "
                      "with `address_suppressed`. Scope `subscribers:write`.")
    async def upsert(self, caller: ApiCaller, data: SubscriberIn) -> Response[SubscriberOut]:
        result = (await upsert_many(caller.workspace_id, data.list_id, [(data.email, data.fields)], data.status))[0]
        if result.code:
            raise _refusal(result)
        await _retag(caller.workspace_id, result.id, data.tags, [])
        row = await subscribers.subscriber_of(caller.workspace_id, result.id)
        return Response(_subscriber_out(row, await subscribers.tags_of(caller.workspace_id, row["id"])),
                        status_code=201 if result.outcome == "created" else 200)

    @post("/bulk", summary="Create or update many subscribers", operation_id="upsertSubscribers",
          opt={"scope": SUBSCRIBERS_WRITE}, responses=error_responses(400, 403, 404, 422), status_code=200,
          description=f"Up to {MAX_ROWS:,} subscribers of one list in one statement, as an import in add-and-update "
                      "mode: new addresses are added, the fields of existing ones merged (their status kept). "
                      "Every row gets a result in the order sent: an id and an outcome, or an error with a stable "
                      "code (`invalid`, `duplicate_in_request`, `address_suppressed`, `conflict`). "
                      "Scope `subscribers:write`.")
    async def bulk(self, caller: ApiCaller, data: BulkIn) -> BulkOut:
        results = await upsert_many(caller.workspace_id, data.list_id,
                                    [(row.email, row.fields) for row in data.subscribers], data.status)
        outcomes = [result.outcome for result in results]
        return BulkOut(created=outcomes.count("created"), updated=outcomes.count("updated"),
                       unchanged=outcomes.count("unchanged"), refused=outcomes.count(""),
                       results=[_bulk_result(result) for result in results])

    @patch("/{subscriber_id:int}", summary="Update a subscriber", operation_id="updateSubscriber",
           opt={"scope": SUBSCRIBERS_WRITE}, responses=error_responses(400, 403, 404, 422),
           description="Changes the address, merges fields (null removes a value), sets the status, adds and "
                       "removes tags. Scope `subscribers:write`.")
    async def update(self, caller: ApiCaller, redis: Redis, subscriber_id: int, data: SubscriberPatch
                     ) -> SubscriberOut:
        workspace_id = caller.workspace_id
        current = await subscribers.subscriber_of(workspace_id, subscriber_id)
        if data.status is not UNSET:
            subscribers.checked_status(data.status)
        if data.email is not UNSET or data.fields is not UNSET:
            tags = [f["tag"] for f in await custom_fields.fields_of(workspace_id, current["list_id"])]
            try:
                given = form_fields(tags, data.fields or {}) if data.fields is not UNSET else {}
                await subscribers.update_subscriber(workspace_id, current["id"], {
                    **_stored_form(current), **given, **({} if data.email is UNSET else {"email": data.email})})
            except SubscriberError as exc:
                raise api_fields(exc) from exc
        if data.status == "unsubscribed":
            await _unsubscribed(redis, workspace_id, current["id"])
        elif data.status is not UNSET:
            await subscribers.set_status(workspace_id, current["id"], data.status, "api")
        await _retag(workspace_id, current["id"], data.add_tags, data.remove_tags)
        row = await subscribers.subscriber_of(workspace_id, current["id"])
        return _subscriber_out(row, await subscribers.tags_of(workspace_id, row["id"]))

    @post("/{subscriber_id:int}/unsubscribe", summary="Unsubscribe a subscriber", status_code=200,
          operation_id="unsubscribeSubscriber", opt={"scope": SUBSCRIBERS_WRITE},
          responses=error_responses(400, 403, 404),
          description="Unsubscribes the subscriber from its list at once: a message not yet handed to a server "
                      "is not sent. Scope `subscribers:write`.")
    async def unsubscribe(self, caller: ApiCaller, redis: Redis, subscriber_id: int) -> SubscriberOut:
        return _subscriber_out(await _unsubscribed(redis, caller.workspace_id, subscriber_id))

    @delete("/{subscriber_id:int}", summary="Delete a subscriber", operation_id="deleteSubscriber",
            opt={"scope": SUBSCRIBERS_WRITE}, responses=error_responses(400, 403, 404),
            description="Removes the subscriber from its list (its events stay in the statistics). "
                        "Scope `subscribers:write`.")
    async def remove(self, request: Request, caller: ApiCaller, redis: Redis, subscriber_id: int) -> None:
        row = await subscribers.subscriber_of(caller.workspace_id, subscriber_id)
        async with _audited(request, caller, redis) as change:
            await subscriber_actions.apply(caller.workspace_id, BulkOrder(
                action="delete", scope="selection", chosen=SubscriberFilter(), ids=[row["id"]]))
            change.note("subscribers.delete", "subscribers", "", {"affected": 1, "scope": "selection"})


class PrivacyController(ApiController):
    path = "/api/v1/privacy"
    tags = ["subscribers"]

    @post("/export", summary="Export a person's data (GDPR)", operation_id="exportPerson", status_code=200,
          opt={"scope": SUBSCRIBERS_READ}, responses=error_responses(400, 403, 404),
          description="Everything the workspace holds about an address: its subscriptions with their fields, "
                      "status history, tags, events and lead consent records. The address travels in the body, "
                      "never in a URL. Scope `subscribers:read`.")
    async def export(self, request: Request, caller: ApiCaller, redis: Redis, data: PersonIn) -> PersonExport:
        address = await _address_on_file(caller.workspace_id, data.email)
        async with _audited(request, caller, redis) as change:
            found = await privacy.person_export(caller.workspace_id, address)
            change.note("privacy.exported", "email", privacy.mask_email(address))
        subscriptions = [{**row, "fields": json.loads(row["fields"]) if isinstance(row["fields"], str)
                          else row["fields"]} for row in found["subscriptions"]]
        return PersonExport(**{**found, "subscriptions": subscriptions})

    @post("/erase", summary="Erase a person's data (GDPR)", operation_id="erasePerson", status_code=200,
          opt={"scope": SUBSCRIBERS_WRITE}, responses=error_responses(400, 403, 404),
          description="Deletes the address from every list with its fields, tags and lead consent records; its "
                      "events stay for statistics without the link to the person. Scope `subscribers:write`.")
    async def erase(self, request: Request, caller: ApiCaller, redis: Redis, data: PersonIn) -> Erased:
        address = await _address_on_file(caller.workspace_id, data.email)
        async with _audited(request, caller, redis) as change:
            erased = await privacy.erase_person(caller.workspace_id, address)
            change.note("privacy.erased", "email", privacy.mask_email(address), {"subscriptions": erased})
        return Erased(erased)


async def _address_on_file(workspace_id: int, email: str) -> str:
    try:
        return await subscribers.address_on_file(workspace_id, email)
    except SubscriberError as exc:
        raise LookupError("subscriber") from exc


# --- imports --------------------------------------------------------------------------------------------------

@dataclass
class _UploadOperation(Operation):
    """The upload's body in the schema: the handler streams it to disk itself rather than have it parsed."""

    def __post_init__(self) -> None:
        text = Schema(type=OpenAPIType.STRING)
        self.request_body = RequestBody(required=True, content={"multipart/form-data": OpenAPIMediaType(schema=Schema(
            type=OpenAPIType.OBJECT, required=["file"],
            properties={"file": Schema(type=OpenAPIType.STRING, format=OpenAPIFormat.BINARY), "mode": text,
                        "status": text, "has_header": text, "encoding": text, "delimiter": text},
            additional_properties=text,
            description="The file (CSV or XLSX) and the import's options; `column_<n>` fields (from 0) map "
                        "columns as the S3 import's `columns` do.",
        ))})


def _columns(choices: dict[str, str]) -> dict[int, str]:
    if any(not key.isdigit() or len(key) > 6 for key in choices):
        raise ImportProblem("Name columns by their number, from 0.", field="columns")
    return {int(key): value for key, value in choices.items()}


async def _started(workspace_id: int, row: dict, options: dict[str, Any], columns: dict[int, str] | None,
                   suppression_list_id: int | None) -> dict:
    """The new import mapped (as asked, else as suggested) and queued; one that cannot start is discarded."""
    reading = imports.reading_options(options)
    try:
        if columns is None:
            analysis, _ = await imports.analyse_import(workspace_id, row, reading)
            columns = {column.index: column.suggestion for column in analysis.columns}
        started = await imports.start(workspace_id, row["id"], columns, str(options.get("mode") or "add"),
                                      {**reading, "status": options.get("status", "confirmed")},
                                      suppression_list_id)
    except BaseException:
        await imports.discard_import(workspace_id, row["id"])
        raise
    run_import.send(workspace_id, row["id"])
    return started


def _reading(has_header: bool | str | None, encoding: str, delimiter: str) -> dict[str, str]:
    header = {True: "yes", False: "no"}.get(has_header, has_header) if has_header is not None else ""
    return {"has_header": header or "", "encoding": encoding, "delimiter": delimiter}


class ImportsController(ApiController):
    path = "/api/v1"
    tags = ["imports"]

    @post("/lists/{list_id:int}/imports", summary="Import from S3", operation_id="importFromS3", status_code=202,
          opt={"scope": SUBSCRIBERS_WRITE}, responses=error_responses(400, 403, 404, 422),
          description="Imports every object under an S3 prefix (or the one key named) into the list in the "
                      "background; follow it with `GET /api/v1/imports/{id}`. Scope `subscribers:write`.")
    async def from_s3(self, caller: ApiCaller, list_id: int, data: S3ImportIn) -> ImportOut:
        await _list_of(caller.workspace_id, list_id)
        columns = _columns(data.columns) if data.columns is not None else None
        row = await imports.create_from_s3(caller.workspace_id, list_id, None, {
            "location": data.location, "region": data.region, "endpoint_url": data.endpoint_url,
            "access_key_id": data.access_key_id, "secret_access_key": data.secret_access_key})
        options = {**_reading(data.has_header, data.encoding, data.delimiter), "mode": data.mode,
                   "status": data.status}
        return _import_out(await _started(caller.workspace_id, row, options, columns, data.suppression_list_id))

    @post("/lists/{list_id:int}/imports/upload", summary="Import an uploaded file", operation_id="importUpload",
          status_code=202, opt={"scope": SUBSCRIBERS_WRITE}, request_max_body_size=UPLOAD_MAX_BYTES,
          operation_class=_UploadOperation, responses=error_responses(400, 403, 404, 422),
          description="Imports a CSV or XLSX file sent as multipart/form-data (`file`, and the options as fields) "
                      "into the list in the background; follow it with `GET /api/v1/imports/{id}`. "
                      "Scope `subscribers:write`.")
    async def upload(self, request: Request, caller: ApiCaller, list_id: int) -> ImportOut:
        await _list_of(caller.workspace_id, list_id)
        content_type, options = request.content_type
        if content_type != "multipart/form-data" or not options.get("boundary"):
            raise ImportProblem("Send the file as multipart/form-data in a field named file.", field="file")
        received = await imports.receive_multipart(request.stream(), options["boundary"].encode(),
                                                   imports.incoming_folder())
        stored = await imports.keep_upload(caller.workspace_id, received)
        row = await imports.create_from_upload(caller.workspace_id, list_id, None, stored)
        fields = received.fields
        choices = {key.removeprefix("column_"): value for key, value in fields.items() if key.startswith("column_")}
        suppression_list = fields.get("suppression_list_id", "")
        return _import_out(await _started(
            caller.workspace_id, row, {**_reading(fields.get("has_header"), fields.get("encoding", ""),
                                                  fields.get("delimiter", "")),
                                       "mode": fields.get("mode", "add"), "status": fields.get("status", "confirmed")},
            _columns(choices) if choices else None,
            int(suppression_list) if suppression_list.isdigit() and len(suppression_list) < 10 else None))

    @get("/imports/{import_id:int}", summary="Get an import's progress", operation_id="getImport",
         opt={"scope": SUBSCRIBERS_WRITE}, responses=error_responses(400, 403, 404),
         description="Where an import stands: status, percent, rows seen, added, updated, skipped, invalid, "
                     "suppressed. Scope `subscribers:write`.")
    async def show(self, caller: ApiCaller, import_id: int) -> ImportOut:
        row = await imports.get_import(caller.workspace_id, import_id)
        if row is None:
            raise LookupError("import")
        return _import_out(row)


CONTROLLERS = [ListsController, SubscribersController, PrivacyController, ImportsController]
