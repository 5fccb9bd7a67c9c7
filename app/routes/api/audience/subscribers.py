"""Subscribers through the API: one or 10,000 upserted, read, filtered, updated, unsubscribed, deleted;
a person's data exported or erased (GDPR).
"""

from __future__ import annotations

import json
from datetime import datetime

from litestar import Request, Response, delete, get, patch, post
from litestar.openapi.datastructures import ResponseSpec
from msgspec import UNSET
from redis.asyncio import Redis

from app.routes.api.audience.common import (
    SUBSCRIBERS_READ,
    SUBSCRIBERS_WRITE,
    after_id,
    api_fields,
    audited,
    list_of,
    next_cursor,
)
from app.routes.api.audience.shapes import (
    BulkIn,
    BulkOut,
    Email,
    Erased,
    PersonExport,
    PersonIn,
    SubscriberIn,
    SubscriberOut,
    SubscriberPatch,
    bulk_result,
    subscriber_out,
)
from app.services import custom_fields, lists, opt_outs, privacy, subscriber_actions, subscribers
from app.services.forms import FormError
from app.services.subscriber_actions import BulkOrder
from app.services.subscribers import SubscriberError, SubscriberFilter
from app.services.subscribers.bulk import MAX_ROWS, RowResult, cell_text, form_fields, upsert_many
from app.services.subscribers.search import subscribers_after
from app.web.api_auth import ApiCaller, ApiController, error_responses
from app.web.api_pages import Page, page_limit
from app.web.errors import ApiError


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
            await list_of(caller.workspace_id, list_id)
        if status and status not in lists.STATUSES:
            raise ApiError(400, "invalid_status", f"status is one of {', '.join(lists.STATUSES)}.",
                           {"status": "unknown"})
        rows = await subscribers_after(caller.workspace_id, SubscriberFilter(list_id=list_id, status=status or ""),
                                       after_id(cursor), size, email_prefix=email_prefix or "",
                                       updated_since=updated_since)
        tags = await subscribers.tags_by_subscriber(caller.workspace_id, [row["id"] for row in rows])
        return Page([subscriber_out(row, tags[row["id"]]) for row in rows], next_cursor(rows, size))

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
        tags = await subscribers.tags_by_subscriber(caller.workspace_id, [row["id"] for row in found])
        return [subscriber_out(row, tags[row["id"]]) for row in found]

    @get("/{subscriber_id:int}", summary="Get a subscriber", operation_id="getSubscriber",
         opt={"scope": SUBSCRIBERS_READ}, responses=error_responses(400, 403, 404),
         description="One subscriber with its fields and tags. Scope `subscribers:read`.")
    async def show(self, caller: ApiCaller, subscriber_id: int) -> SubscriberOut:
        row = await subscribers.subscriber_of(caller.workspace_id, subscriber_id)
        return subscriber_out(row, await subscribers.tags_of(caller.workspace_id, row["id"]))

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
        return Response(subscriber_out(row, await subscribers.tags_of(caller.workspace_id, row["id"])),
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
                       results=[bulk_result(result) for result in results])

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
        return subscriber_out(row, await subscribers.tags_of(workspace_id, row["id"]))

    @post("/{subscriber_id:int}/unsubscribe", summary="Unsubscribe a subscriber", status_code=200,
          operation_id="unsubscribeSubscriber", opt={"scope": SUBSCRIBERS_WRITE},
          responses=error_responses(400, 403, 404),
          description="Unsubscribes the subscriber from its list at once: a message not yet handed to a server "
                      "is not sent. Scope `subscribers:write`.")
    async def unsubscribe(self, caller: ApiCaller, redis: Redis, subscriber_id: int) -> SubscriberOut:
        row = await _unsubscribed(redis, caller.workspace_id, subscriber_id)
        return subscriber_out(row, await subscribers.tags_of(caller.workspace_id, row["id"]))

    @delete("/{subscriber_id:int}", summary="Delete a subscriber", operation_id="deleteSubscriber",
            opt={"scope": SUBSCRIBERS_WRITE}, responses=error_responses(400, 403, 404),
            description="Removes the subscriber from its list (its events stay in the statistics). "
                        "Scope `subscribers:write`.")
    async def remove(self, request: Request, caller: ApiCaller, redis: Redis, subscriber_id: int) -> None:
        row = await subscribers.subscriber_of(caller.workspace_id, subscriber_id)
        async with audited(request, caller, redis) as change:
            await subscriber_actions.apply(caller.workspace_id, BulkOrder(
                action="delete", scope="selection", chosen=SubscriberFilter(), ids=[row["id"]]))
            change.note("subscribers.delete", "subscribers", "", {"affected": 1, "scope": "selection"})


class PrivacyController(ApiController):
    path = "/api/v1/privacy"
    tags = ["subscribers"]

    @post("/export", summary="Export a person's data (GDPR)", operation_id="exportPerson", status_code=200,
          opt={"scope": SUBSCRIBERS_READ}, responses=error_responses(400, 403, 404),
          description="Everything the workspace holds about an address: its subscriptions with their fields, "
                      "status history, tags, events, lead consent records and the transactional messages sent "
                      "to it. The address travels in the body, "
                      "never in a URL. Scope `subscribers:read`.")
    async def export(self, request: Request, caller: ApiCaller, redis: Redis, data: PersonIn) -> PersonExport:
        address = await _address_on_file(caller.workspace_id, data.email)
        async with audited(request, caller, redis) as change:
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
        async with audited(request, caller, redis) as change:
            erased = await privacy.erase_person(caller.workspace_id, address)
            change.note("privacy.erased", "email", privacy.mask_email(address), {"subscriptions": erased})
        return Erased(erased)


async def _address_on_file(workspace_id: int, email: str) -> str:
    try:
        return await subscribers.address_on_file(workspace_id, email)
    except SubscriberError as exc:
        raise LookupError("subscriber") from exc
