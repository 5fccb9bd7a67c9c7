"""Segments through the API: define, list, get, update, delete (`lists:manage`); count and export
(`subscribers:read`). A definition is the condition tree the segment builder stores, checked by the same
service: a problem is a 422 whose `fields` name the rule at fault ("r.0.1") or the field ("name")."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec
from litestar import Request, delete, get, post, put
from litestar.response import Stream
from msgspec import Struct
from redis.asyncio import Redis

from app.routes.api.common import BodyId, Cursor, Limit, id_after, page_limit, page_of, shaped
from app.services import audit, exports, segments
from app.services.custom_fields import TAG_PATTERN
from app.web.api_auth import ApiCaller, ApiController, api_actor, error_responses
from app.web.api_pages import Page

READ = {"scope": "subscribers:read"}
MANAGE = {"scope": "lists:manage"}
EMPTY_TREE = {"match": "all", "rules": []}
CSV = "text/csv"
JSON_LINES = "application/x-ndjson"


class SegmentDefinition(Struct):
    """Which subscribers: the lists to look in (none means every list not archived) and the condition tree."""

    list_ids: list[BodyId] = msgspec.field(default_factory=list)
    conditions: dict[str, Any] = msgspec.field(default_factory=lambda: dict(EMPTY_TREE))


class SegmentInput(Struct):
    name: str
    description: str = ""
    list_ids: list[BodyId] = msgspec.field(default_factory=list)
    conditions: dict[str, Any] = msgspec.field(default_factory=lambda: dict(EMPTY_TREE))


class SegmentOut(Struct):
    id: int
    name: str
    description: str
    list_ids: list[int]
    conditions: dict[str, Any]
    cached_count: int | None
    counted_at: datetime | None
    created_at: datetime
    updated_at: datetime


class SegmentCount(Struct):
    """Mailable subscribers the definition matches, one per address."""

    count: int
    counted_at: datetime | None = None


def _values(body: SegmentInput | SegmentDefinition) -> dict[str, Any]:
    return {name: getattr(body, name) for name in body.__struct_fields__}


async def _segment_of(workspace_id: int, segment_id: int) -> dict:
    found = await segments.get_segment(workspace_id, segment_id)
    if found is None:
        raise LookupError("segment")
    return found


class SegmentApi(ApiController):
    path = "/api/v1/segments"
    tags = ["segments"]

    @get("/", opt=READ, operation_id="listSegments", summary="List segments",
         description="Scope `subscribers:read`. Segments in id order, a page at a time.",
         responses=error_responses(400, 403))
    async def index(self, caller: ApiCaller, limit: Limit = None, cursor: Cursor = None) -> Page[SegmentOut]:
        size = page_limit(limit)
        rows = await segments.segments_page(caller.workspace_id, id_after(cursor), size + 1)
        return page_of(rows, size, SegmentOut)

    @post("/", opt=MANAGE, operation_id="createSegment", summary="Define a segment",
          description="Scope `lists:manage`. Checked like the segment builder checks it, and counted on the way.",
          responses=error_responses(400, 403, 422))
    async def create(self, request: Request, caller: ApiCaller, data: SegmentInput, redis: Redis) -> SegmentOut:
        async with audit.change(redis, caller.workspace_id, api_actor(caller, request)) as change:
            saved = await segments.save_segment(caller.workspace_id, _values(data))
            change.note("segment.created", "segment", saved["id"], {"name": saved["name"],
                                                                   "count": saved["cached_count"]})
        return shaped(saved, SegmentOut)

    @post("/count", opt=READ, operation_id="countSegmentDefinition", summary="Count a definition",
          description="Scope `subscribers:read`. How many mailable subscribers a definition matches, without "
                      "saving it.", responses=error_responses(400, 403, 422), status_code=200)
    async def count_definition(self, caller: ApiCaller, data: SegmentDefinition) -> SegmentCount:
        return SegmentCount(count=await segments.count(caller.workspace_id, _values(data)))

    @get("/{segment_id:int}", opt=READ, operation_id="getSegment", summary="Get a segment",
         description="Scope `subscribers:read`.", responses=error_responses(403, 404))
    async def show(self, caller: ApiCaller, segment_id: int) -> SegmentOut:
        return shaped(await _segment_of(caller.workspace_id, segment_id), SegmentOut)

    @put("/{segment_id:int}", opt=MANAGE, operation_id="updateSegment", summary="Update a segment",
         description="Scope `lists:manage`. Replaces the name, description, lists and conditions; counts it again.",
         responses=error_responses(400, 403, 404, 422))
    async def update(self, request: Request, caller: ApiCaller, segment_id: int, data: SegmentInput,
                     redis: Redis) -> SegmentOut:
        await _segment_of(caller.workspace_id, segment_id)
        async with audit.change(redis, caller.workspace_id, api_actor(caller, request)) as change:
            saved = await segments.save_segment(caller.workspace_id, _values(data), segment_id)
            change.note("segment.updated", "segment", segment_id, {"name": saved["name"],
                                                                  "count": saved["cached_count"]})
        return shaped(saved, SegmentOut)

    @delete("/{segment_id:int}", opt=MANAGE, operation_id="deleteSegment", summary="Delete a segment",
            description="Scope `lists:manage`.", responses=error_responses(403, 404))
    async def remove(self, request: Request, caller: ApiCaller, segment_id: int, redis: Redis) -> None:
        async with audit.change(redis, caller.workspace_id, api_actor(caller, request)) as change:
            deleted = await segments.delete_segment(caller.workspace_id, segment_id)
            change.note("segment.deleted", "segment", segment_id, {"name": deleted["name"]})

    @get("/{segment_id:int}/count", opt=READ, operation_id="countSegment", summary="Count a segment now",
         description="Scope `subscribers:read`. Counts the segment's mailable subscribers now and keeps the "
                     "number as its cached count. A list or field it relies on that was deleted since is a 422.",
         responses=error_responses(403, 404, 422))
    async def count(self, caller: ApiCaller, segment_id: int) -> SegmentCount:
        await _segment_of(caller.workspace_id, segment_id)
        counted = await segments.recount(caller.workspace_id, segment_id)
        return SegmentCount(count=counted["cached_count"], counted_at=counted["counted_at"])

    @get("/{segment_id:int}/export.csv", opt=READ, operation_id="exportSegment", summary="Export a segment as CSV",
         description="Scope `subscribers:read`. The segment's mailable subscribers (one row per address) as CSV, "
                     "streamed: email, status, subscribed_at, then each custom field named by `field` (its merge "
                     "tag; repeat the parameter for several).",
         media_type=CSV, responses=error_responses(400, 403, 404, 422))
    async def export(self, request: Request, caller: ApiCaller, segment_id: int, redis: Redis,
                     field: list[str] | None = None) -> Stream:
        return await _export(request, caller, segment_id, redis, field or [], CSV)

    @get("/{segment_id:int}/export.jsonl", opt=READ, operation_id="exportSegmentJsonLines",
         summary="Export a segment as JSON lines",
         description="Scope `subscribers:read`. The segment's mailable subscribers (one per address), streamed as "
                     "one JSON object a line: email, status, subscribed_at, and `fields` with each custom field "
                     "named by `field` (its merge tag; repeat the parameter for several).",
         media_type=JSON_LINES, responses=error_responses(400, 403, 404, 422))
    async def export_lines(self, request: Request, caller: ApiCaller, segment_id: int, redis: Redis,
                           field: list[str] | None = None) -> Stream:
        return await _export(request, caller, segment_id, redis, field or [], JSON_LINES)


async def _export(request: Request, caller: ApiCaller, segment_id: int, redis: Redis, field: list[str],
                  media_type: str) -> Stream:
    """The segment's subscribers streamed as CSV or JSON lines, the export audited first."""
    segment = await _segment_of(caller.workspace_id, segment_id)
    tags = [tag for tag in dict.fromkeys(field) if TAG_PATTERN.fullmatch(tag)]
    selection = await exports.segment_selection(caller.workspace_id, segment)
    await audit.record(redis, caller.workspace_id, api_actor(caller, request), "segment.exported", "segment",
                       segment_id, {"fields": tags})
    writer, suffix = (exports.subscribers_csv, "csv") if media_type == CSV else (exports.subscribers_jsonl, "jsonl")
    return Stream(writer(caller.workspace_id, selection, tags), media_type=media_type,
                  headers={"Content-Disposition": f'attachment; filename="segment-{segment_id}.{suffix}"'})


CONTROLLERS = [SegmentApi]
