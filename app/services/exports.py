"""Subscribers out as CSV: a stream of bytes read through a server-side cursor, so memory stays flat at any size.

Columns are the address, status and subscription time, then the chosen
custom fields by merge tag, which makes an export re-importable as it is.
Cells a spreadsheet would run as formulas are escaped by the one CSV writer
(app/services/csv_files.py).
Which subscribers is a `Selection`: a fixed WHERE with values only as
parameters, written here for a list or compiled from a segment's conditions.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from app.piccolo_conf import DB
from app.services.csv_files import CsvRows
from app.services.lists import STATUSES
from app.services.segments import matching_ids_query
from app.services.sqlparams import Params
from app.services.tenancy import checked_workspace_id

FETCH_ROWS = 5000
BASE_COLUMNS = ("email", "status", "subscribed_at")


@dataclass(frozen=True)
class Selection:
    """Which subscribers (alias `s`) to export: SQL with $-placeholders numbered from 2 ($1 is the workspace)."""

    where: str
    params: tuple[Any, ...] = field(default_factory=tuple)
    order_by: str = "s.id"


def list_selection(list_id: int, statuses: tuple[str, ...] = ()) -> Selection:
    """One list, optionally only some statuses; ordered by address, which the (list_id, email) index streams."""
    chosen = tuple(status for status in statuses if status in STATUSES)
    if chosen:
        return Selection("s.list_id = $2 AND s.status = ANY($3::varchar[])", (list_id, list(chosen)), "s.email")
    return Selection("s.list_id = $2", (list_id,), "s.email")


async def segment_selection(workspace_id: int, segment: Mapping[str, Any]) -> Selection:
    """A saved segment's subscribers, as its count shows them (mailable, one row per address)."""
    params = Params()
    params.add(checked_workspace_id(workspace_id))  # $1, which subscribers_csv binds
    query, params = await matching_ids_query(workspace_id, segment, params)
    return Selection(f"s.id IN ({query})", tuple(params.values[1:]), "s.email")


def _query(selection: Selection, tags: list[str]) -> tuple[str, list[Any]]:
    params: list[Any] = [*selection.params]
    columns = ["s.email", "s.status",
               "to_char(s.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"]
    for tag in tags:
        params.append(tag)
        columns.append(f"s.fields->>${len(params) + 1}")
    sql = (f"SELECT {', '.join(columns)} FROM subscribers s WHERE s.workspace_id = $1 AND ({selection.where}) "
           f"ORDER BY {selection.order_by}")
    return sql, params


async def _row_chunks(workspace_id: int, selection: Selection, tags: list[str]) -> AsyncIterator[list[Any]]:
    """The selected rows (BASE_COLUMNS, then the tags' values) a few thousand at a time.

    The cursor lives in a transaction on a connection of its own, held while
    the client downloads: a slow download must not hold a slot of the pool.
    """
    sql, params = _query(selection, tags)
    db = await asyncpg.connect(DB.config["dsn"])
    try:
        async with db.transaction(readonly=True):
            cursor = await db.cursor(sql, checked_workspace_id(workspace_id), *params)
            while rows := await cursor.fetch(FETCH_ROWS):
                yield rows
    finally:
        await db.close()


async def subscribers_csv(workspace_id: int, selection: Selection, tags: list[str]) -> AsyncIterator[bytes]:
    """The CSV, header first, in chunks of a few thousand rows."""
    csv_rows = CsvRows((*BASE_COLUMNS, *tags))
    yield csv_rows.header()
    async for rows in _row_chunks(workspace_id, selection, tags):
        yield csv_rows.encode(rows)


async def subscribers_jsonl(workspace_id: int, selection: Selection, tags: list[str]) -> AsyncIterator[bytes]:
    """The same rows as JSON lines for programs: one object per subscriber, its custom fields by merge tag."""
    async for rows in _row_chunks(workspace_id, selection, tags):
        yield b"".join(json.dumps({"email": row[0], "status": row[1], "subscribed_at": row[2],
                                   "fields": dict(zip(tags, row[3:], strict=True))}).encode() + b"\n"
                       for row in rows)
