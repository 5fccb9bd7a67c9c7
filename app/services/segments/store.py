"""Counting, previewing and selecting a segment's subscribers; saving segments with their cached count.

A definition is a mapping with "list_ids" (none means every list that is not
archived) and "conditions" (the tree), so a saved segment row is one too.
An address on several chosen lists is one recipient: counts and id queries
keep one subscriber row per address.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from app.db.segments import Segment
from app.services.accounts import now
from app.services.segments.compiler import where_sql
from app.services.segments.validation import Problem, SegmentError, checked, chosen_list_ids
from app.services.sqlparams import Params, fetch
from app.services.tenancy import checked_workspace_id, owned_by, row_id

PREVIEW_SIZE = 20
# The builder counts on every pause in typing; a pathological tree must not hold a connection for long.
LIVE_SECONDS = 10.0


@dataclass
class Live:
    """What the builder shows while editing: the count and first rows, or what to fix."""

    count: int | None = None
    preview: list[dict] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)


async def matching_ids_query(
    workspace_id: int, definition: Mapping[str, Any], params: Params | None = None, mailable: bool = True
) -> tuple[str, Params]:
    """`SELECT s.id ...` of the segment's subscribers, one per address, with its parameters.

    Pass the statement's own `params` to embed the query in a larger one, e.g.
    a campaign's `INSERT INTO deliveries ... SELECT ... FROM (<query>) m`.
    Exports may pass mailable=False to include unsubscribed or suppressed rows.
    """
    params = params or Params()
    context, tree = await checked(workspace_id, definition)
    where = where_sql(params, workspace_id, context.list_ids, tree, context.field_kinds, mailable)
    if len(context.list_ids) == 1:
        return f"SELECT s.id FROM subscribers s WHERE {where}", params
    return f"SELECT DISTINCT ON (s.email) s.id FROM subscribers s WHERE {where} ORDER BY s.email, s.id", params


async def count(workspace_id: int, definition: Mapping[str, Any]) -> int:
    """Mailable subscribers (distinct addresses) the definition matches; SegmentError when it is invalid."""
    context, tree = await checked(workspace_id, definition)
    params = Params()
    where = where_sql(params, workspace_id, context.list_ids, tree, context.field_kinds)
    # One list has unique addresses already; the DISTINCT (a sort or hash of every match) is paid only for several.
    what = "count(*)" if len(context.list_ids) == 1 else "count(DISTINCT s.email)"
    rows = await fetch(f"SELECT {what} AS n FROM subscribers s WHERE {where}", params)
    return int(rows[0]["n"])


async def preview(workspace_id: int, definition: Mapping[str, Any], limit: int = PREVIEW_SIZE) -> list[dict]:
    """The first matching subscribers the scan meets, with their list's name.

    No ORDER BY on the search itself: "newest first" tempts PostgreSQL to walk
    the primary key backwards, which for a rare segment visits the whole table
    in random order; the first rows found are sorted only for display.
    """
    context, tree = await checked(workspace_id, definition)
    params = Params()
    where = where_sql(params, workspace_id, context.list_ids, tree, context.field_kinds)
    return await fetch(
        "SELECT m.*, l.name AS list_name FROM (SELECT s.id, s.list_id, s.email, s.status, s.fields, "
        "s.engagement_score, s.created_at, s.last_open_at FROM subscribers s "
        f"WHERE {where} LIMIT {params.add(limit)}) m JOIN lists l ON l.id = m.list_id ORDER BY m.id",
        params,
    )


async def live(workspace_id: int, definition: Mapping[str, Any]) -> Live:
    try:
        async with asyncio.timeout(LIVE_SECONDS):
            return Live(await count(workspace_id, definition), await preview(workspace_id, definition))
    except SegmentError as exc:
        return Live(errors=exc.errors)
    except TimeoutError:
        return Live(errors={"__all__": f"Counting took over {LIVE_SECONDS:.0f} s; simplify the conditions."})


async def list_segments(workspace_id: int) -> list[dict]:
    return await Segment.select().where(owned_by(Segment, workspace_id)).order_by(Segment.name).output(
        load_json=True
    )


async def segments_page(workspace_id: int, after_id: int | None = None, limit: int = 50) -> list[dict]:
    """Segments in id order after `after_id`: a keyset page (the API lists them this way)."""
    query = Segment.select().where(owned_by(Segment, workspace_id))
    if after_id is not None:
        query = query.where(Segment.id > after_id)
    return await query.order_by(Segment.id).limit(limit).output(load_json=True)


async def get_segment(workspace_id: int, segment_id: object) -> dict | None:
    pk = row_id(Segment, segment_id)
    if pk is None:
        return None
    return await Segment.select().where(owned_by(Segment, workspace_id), Segment.id == pk).output(
        load_json=True
    ).first()


async def _cleaned(workspace_id: int, values: Mapping[str, Any], segment_id: int | None) -> dict[str, Any]:
    """Name, description, lists and the normalised tree; SegmentError names every problem."""
    problems: list[Problem] = []
    name = str(values.get("name", "")).strip()
    if not name:
        problems.append(Problem((), "Give the segment a name.", "name"))
    elif len(name) > 120:
        problems.append(Problem((), "Use at most 120 characters.", "name"))
    else:
        taken = Segment.exists().where(owned_by(Segment, workspace_id), Segment.name == name)
        if segment_id is not None:
            taken = taken.where(Segment.id != segment_id)
        if await taken:
            problems.append(Problem((), "Another segment already has this name.", "name"))
    tree: dict = {}
    try:
        _, tree = await checked(workspace_id, values)
    except SegmentError as exc:
        problems += exc.problems
    if problems:
        raise SegmentError(problems)
    return {"name": name, "description": str(values.get("description", "")).strip(),
            "list_ids": chosen_list_ids(values.get("list_ids")), "conditions": tree}


async def save_segment(workspace_id: int, values: Mapping[str, Any], segment_id: int | None = None) -> dict:
    """Creates (no id) or updates a segment, counting it on the way so the list page shows a fresh number."""
    clean = await _cleaned(workspace_id, values, segment_id)
    counted = {"cached_count": await count(workspace_id, clean), "counted_at": now()}
    if segment_id is None:
        rows = await Segment.insert(Segment(workspace_id=checked_workspace_id(workspace_id), created_at=now(),
                                            updated_at=now(), **clean, **counted)).returning(Segment.id)
    else:
        rows = await Segment.update({**clean, **counted, "updated_at": now()}).where(
            owned_by(Segment, workspace_id), Segment.id == segment_id
        ).returning(Segment.id)
        if not rows:
            raise LookupError("segment")
    saved = await get_segment(workspace_id, rows[0]["id"])
    assert saved is not None
    return saved


async def recount(workspace_id: int, segment_id: int) -> dict:
    segment = await get_segment(workspace_id, segment_id)
    if segment is None:
        raise LookupError("segment")
    counted = {"cached_count": await count(workspace_id, segment), "counted_at": now()}
    await Segment.update(counted).where(owned_by(Segment, workspace_id), Segment.id == segment_id)
    return {**segment, **counted}


async def delete_segment(workspace_id: int, segment_id: int) -> dict:
    rows = await Segment.delete().where(owned_by(Segment, workspace_id), Segment.id == segment_id).returning(
        Segment.id, Segment.name
    )
    if not rows:
        raise LookupError("segment")
    return rows[0]
