"""Suppression through the API (`suppression:manage`): the blacklist and named suppression lists, adding and
removing addresses, hashes and domains, and "is this address suppressed, and why?".

Entries are read as the UI's paste box reads lines (`suppression.parse_lines`): an address, `@domain` or a bare
domain, an MD5 or SHA-256 hash of the lower-cased address. Where a body names no `list_id`, the list is the
workspace's blacklist.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from litestar import Request, delete, get, post
from litestar.exceptions import ValidationException
from litestar.params import Parameter
from msgspec import Meta, Struct
from redis.asyncio import Redis

from app.routes.api.common import BodyId, Cursor, Limit, not_ours, page_limit, shaped
from app.services import audit, suppression
from app.services.subscribers import normalized_email
from app.services.suppression.mailable import suppressions_of
from app.web.api_auth import ApiCaller, ApiController, api_actor, error_responses
from app.web.api_pages import Page, decode_cursor, encode_cursor
from app.web.params import keyset_param

SCOPE = {"scope": "suppression:manage"}
MOST_ENTRIES = 10_000
Entries = Annotated[list[str], Meta(min_length=1, max_length=MOST_ENTRIES,
                                    description=f"1 to {MOST_ENTRIES:,} addresses, hashes or domains.")]

Query = Annotated[str, Parameter(max_length=320, description="An address, or the start of an entry.")]
Address = Annotated[str, Parameter(max_length=320, description="The address to check.")]


class SuppressionListInput(Struct):
    name: str
    description: str = ""


class SuppressionListOut(Struct):
    id: int
    name: str
    is_blacklist: bool
    description: str
    entry_count: int
    created_at: datetime


class EntryOut(Struct):
    id: int
    kind: str
    value: str
    reason: str
    created_at: datetime


class EntriesInput(Struct):
    entries: Entries
    # None: the workspace's blacklist.
    list_id: BodyId | None = None
    reason: Annotated[str, Meta(max_length=200)] = ""


class EntriesRemoval(Struct):
    entries: Entries
    list_id: BodyId | None = None


class AddResult(Struct):
    list_id: int
    added: int
    already_present: int
    # The lines that are none of an address, a hash or a domain: nothing was added for them.
    invalid: list[str]


class RemoveResult(Struct):
    list_id: int
    removed: int
    invalid: list[str]


class SuppressionMatch(Struct):
    list_name: str
    is_blacklist: bool
    kind: str
    value: str


class CheckResult(Struct):
    email: str
    # An entry of the blacklist or of a suppression list matches the address, its hash or its domain.
    suppressed: bool
    # Nothing keeps the address from being mailed: no entry, and no list where its status forbids it.
    mailable: bool
    reasons: list[str]
    matches: list[SuppressionMatch]


async def _list_id(workspace_id: int, list_id: int | None) -> int:
    """The list a body names (404 when it is not the workspace's), or the workspace's blacklist."""
    if list_id is None:
        return (await suppression.blacklist(workspace_id))["id"]
    if await suppression.get_list(workspace_id, list_id) is None:
        raise LookupError("suppression list")
    return list_id


def _entries_after(cursor: str | None) -> str:
    """The `value|id` of the last entry of the page before, as the suppression search continues from it."""
    position = decode_cursor(cursor)
    if position is None:
        return ""
    try:
        kept = isinstance(position, str) and keyset_param({"after": position}) is not None
    except ValidationException:
        kept = False
    if not kept:
        raise not_ours()
    return position


class SuppressionApi(ApiController):
    path = "/api/v1/suppression"
    tags = ["suppression"]

    @get("/lists", opt=SCOPE, operation_id="listSuppressionLists", summary="List suppression lists",
         description="Scope `suppression:manage`. The blacklist first, then the named lists by name (one page).",
         responses=error_responses(403))
    async def lists(self, caller: ApiCaller) -> Page[SuppressionListOut]:
        rows = await suppression.all_lists(caller.workspace_id)
        return Page(data=[shaped(row, SuppressionListOut) for row in rows])

    @post("/lists", opt=SCOPE, operation_id="createSuppressionList", summary="Create a suppression list",
          description="Scope `suppression:manage`.", responses=error_responses(400, 403, 422))
    async def create_list(self, request: Request, caller: ApiCaller, data: SuppressionListInput,
                          redis: Redis) -> SuppressionListOut:
        async with audit.change(redis, caller.workspace_id, api_actor(caller, request)) as change:
            created = await suppression.create_list(caller.workspace_id, data.name, data.description)
            change.note("suppression_list.created", "suppression_list", created["id"], {"name": created["name"]})
        return shaped(created, SuppressionListOut)

    @delete("/lists/{list_id:int}", opt=SCOPE, operation_id="deleteSuppressionList",
            summary="Delete a suppression list", description="Scope `suppression:manage`. The list and its entries; "
            "the blacklist cannot be deleted (422), only emptied.", responses=error_responses(403, 404, 422))
    async def delete_list(self, request: Request, caller: ApiCaller, list_id: int, redis: Redis) -> None:
        async with audit.change(redis, caller.workspace_id, api_actor(caller, request)) as change:
            deleted = await suppression.delete_list(caller.workspace_id, list_id)
            change.note("suppression_list.deleted", "suppression_list", list_id,
                        {"name": deleted["name"], "entries": deleted["entry_count"]})

    @get("/lists/{list_id:int}/entries", opt=SCOPE, operation_id="listSuppressionEntries",
         summary="List a suppression list's entries",
         description="Scope `suppression:manage`. Entries in value order. `q` finds a whole address (with its "
                     "hashes and its domain) or entries starting with the text.",
         responses=error_responses(400, 403, 404))
    async def entries(self, caller: ApiCaller, list_id: int, limit: Limit = None, cursor: Cursor = None,
                      q: Query = "") -> Page[EntryOut]:
        if await suppression.get_list(caller.workspace_id, list_id) is None:
            raise LookupError("suppression list")
        rows, after = await suppression.search(caller.workspace_id, list_id, q, _entries_after(cursor),
                                               page_limit(limit))
        return Page(data=[shaped(row, EntryOut) for row in rows], next_cursor=encode_cursor(after) if after else None)

    @post("/entries", opt=SCOPE, operation_id="addSuppressionEntries", summary="Suppress addresses or domains",
          description="Scope `suppression:manage`. Adds up to 10,000 addresses, hashes or domains to the blacklist "
                      "(no `list_id`) or to a named list, in one statement; what is already there is counted, not "
                      "repeated. Every send subtracts them from then on.", status_code=200,
          responses=error_responses(400, 403, 404))
    async def add(self, request: Request, caller: ApiCaller, data: EntriesInput, redis: Redis) -> AddResult:
        list_id = await _list_id(caller.workspace_id, data.list_id)
        entries, invalid = suppression.parse_lines("\n".join(data.entries))
        async with audit.change(redis, caller.workspace_id, api_actor(caller, request)) as change:
            added = await suppression.add_entries(caller.workspace_id, list_id, entries, data.reason)
            change.note("suppression.entries_added", "suppression_list", list_id, {
                "added": added, "already_present": len(entries) - added, "invalid": len(invalid)})
        return AddResult(list_id=list_id, added=added, already_present=len(entries) - added, invalid=invalid)

    @post("/entries/remove", opt=SCOPE, operation_id="removeSuppressionEntries",
          summary="Stop suppressing addresses or domains",
          description="Scope `suppression:manage`. Removes these entries (as written when added: an address, a hash "
                      "or a domain) from the blacklist (no `list_id`) or a named list.", status_code=200,
          responses=error_responses(400, 403, 404))
    async def remove(self, request: Request, caller: ApiCaller, data: EntriesRemoval, redis: Redis) -> RemoveResult:
        list_id = await _list_id(caller.workspace_id, data.list_id)
        entries, invalid = suppression.parse_lines("\n".join(data.entries))
        async with audit.change(redis, caller.workspace_id, api_actor(caller, request)) as change:
            removed = await suppression.remove_entries(caller.workspace_id, list_id, entries)
            change.note("suppression.entries_removed", "suppression_list", list_id, {"removed": removed})
        return RemoveResult(list_id=list_id, removed=removed, invalid=invalid)

    @delete("/lists/{list_id:int}/entries/{entry_id:int}", opt=SCOPE, operation_id="deleteSuppressionEntry",
            summary="Remove one entry", description="Scope `suppression:manage`.", responses=error_responses(403, 404))
    async def remove_one(self, request: Request, caller: ApiCaller, list_id: int, entry_id: int,
                         redis: Redis) -> None:
        async with audit.change(redis, caller.workspace_id, api_actor(caller, request)) as change:
            removed = await suppression.remove_entry(caller.workspace_id, list_id, entry_id)
            change.note("suppression.entry_removed", "suppression_list", list_id,
                        {"kind": removed["kind"], "value": removed["value"]})

    @get("/check", opt=SCOPE, operation_id="checkSuppression", summary="Is this address suppressed, and why",
         description="Scope `suppression:manage`. Every entry that matches the address (itself, its hashes, its "
                     "domain), and every reason a send would leave it out (its status on each list included).",
         responses=error_responses(400, 403, 422))
    async def check(self, caller: ApiCaller, email: Address) -> CheckResult:
        address = normalized_email(email)
        found = (await suppressions_of(caller.workspace_id, [address])).get(address, [])
        reasons = await suppression.why_not_mailable(caller.workspace_id, address)
        return CheckResult(email=address, suppressed=bool(found), mailable=not reasons, reasons=reasons,
                           matches=[SuppressionMatch(entry.list_name, entry.is_blacklist, entry.kind, entry.value)
                                    for entry in found])


CONTROLLERS = [SuppressionApi]
