"""The subscriber table at millions of rows: one keyset page, how many match, and the columns to show."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from app.db.audience import Subscriber
from app.services.lists import STATUSES
from app.services.sqlparams import Params, fetch
from app.services.subscribers.filters import SubscriberFilter, filter_sql
from app.services.suppression import mailable
from app.services.tenancy import checked_workspace_id

PAGE_SIZE = 50
# Counting a broad filter's matches reads a heap page per match: at a million subscribers 10,000 of them cost
# ~50 ms more and put the page's p95 past 100 ms (benchmarks/audience.py), 1,000 cost ~5 ms. Past the cap the
# page says "1,000+"; a whole-filter action fetches the exact number before asking (the /count endpoint).
COUNT_CAP = 1_000


@dataclass(frozen=True)
class Total:
    """How many subscribers a filter matches; `capped` when there are more than `count`."""

    count: int
    capped: bool = False

    @property
    def label(self) -> str:
        return f"{self.count:,}+" if self.capped else f"{self.count:,}"


@dataclass(frozen=True)
class TablePage:
    rows: list[dict]
    cursor: str
    total: Total | None


async def _planned_for_values(sql: str, params: Params, dense: bool = False) -> list[dict]:
    """Rows of a search, planned for the values it was sent with.

    Prepared statements switch to a generic plan after a few runs, and a generic plan cannot see that
    `first_name=ann` is selective: it scans the whole list instead of the search indexes. When the filter is
    known to match many rows (`dense`), a page is found fastest walking the ids backwards, but PostgreSQL
    cannot estimate how many rows a substring matches: it is told not to gather every match first.
    """
    async with Subscriber._meta.db.transaction():
        await fetch("SET LOCAL plan_cache_mode = force_custom_plan")
        if dense:
            await fetch("SET LOCAL enable_bitmapscan = off")
        return await fetch(sql, params)


def _cursor_sql(params: Params, sort: str, after: tuple[str, int] | None) -> tuple[str, str]:
    """The keyset condition after the last row shown ("" on the first page), and the order."""
    if sort == "email":
        condition = f"(s.email, s.id) > ({params.add(after[0])}, {params.add(after[1])})" if after else ""
        return condition, "s.email, s.id"
    return (f"s.id < {params.add(after[1])}" if after else ""), "s.id DESC"


async def search(
    workspace_id: int, chosen: SubscriberFilter, sort: str = "newest", after: tuple[str, int] | None = None,
    limit: int = PAGE_SIZE, dense: bool = False,
) -> tuple[list[dict], str]:
    """One page of subscribers (`after` the (email, id) or id of the last row shown) and the next page's cursor
    ("" when this is the last); `dense` when the filter is known to match more than COUNT_CAP rows."""
    params = Params()
    where = await filter_sql(params, workspace_id, chosen)
    keyset, order = _cursor_sql(params, sort, after)
    rows = await _planned_for_values(
        "SELECT s.id, s.list_id, s.email, s.status, s.fields, s.created_at, s.last_open_at, s.last_click_at, "
        "s.engagement_score, l.name AS list_name FROM subscribers s JOIN lists l ON l.id = s.list_id "
        f"WHERE {where}{' AND ' + keyset if keyset else ''} ORDER BY {order} LIMIT {params.add(limit + 1)}",
        params, dense,
    )
    for row in rows:
        row["fields"] = json.loads(row["fields"]) if isinstance(row["fields"], str) else row["fields"]
    more = len(rows) > limit
    rows = rows[:limit]
    cursor = ""
    if more and rows:
        last = rows[-1]
        cursor = f"{last['email']}|{last['id']}" if sort == "email" else f"|{last['id']}"
    return rows, cursor


async def _counted_by_lists(workspace_id: int, chosen: SubscriberFilter) -> int:
    """From the counters the triggers keep: no subscriber is counted here but those the blacklist matches."""
    column = chosen.status if chosen.status in STATUSES else "total"
    params = Params()
    narrowed = f"AND c.list_id = {params.add(chosen.list_id)}" if chosen.list_id else ""
    rows = await fetch(
        f"SELECT coalesce(sum(c.{column}), 0) AS n FROM list_counters c "
        f"WHERE c.workspace_id = {params.add(checked_workspace_id(workspace_id))} {narrowed}",
        params,
    )
    counted = int(rows[0]["n"])
    if column == "blacklisted":
        counted += await mailable.blacklisted_by_rule(workspace_id, chosen.list_id)
    return counted


async def total(workspace_id: int, chosen: SubscriberFilter, cap: int | None = COUNT_CAP) -> Total:
    """How many subscribers match: exact from the counters when only a list and a status narrow it, otherwise
    counted up to `cap` (None: all of them, for a bulk action about to run)."""
    if chosen.counted_by_lists():
        return Total(await _counted_by_lists(workspace_id, chosen))
    params = Params()
    where = await filter_sql(params, workspace_id, chosen)
    limit = f"LIMIT {params.add(cap + 1)}" if cap is not None else ""
    rows = await _planned_for_values(
        f"SELECT count(*) AS n FROM (SELECT 1 FROM subscribers s WHERE {where} {limit}) found", params)
    found = int(rows[0]["n"])
    if cap is not None and found > cap:
        return Total(cap, capped=True)
    return Total(found)


async def _matches(workspace_id: int, chosen: SubscriberFilter) -> list[int]:
    """The ids of up to COUNT_CAP + 1 subscribers the filter matches, in no particular order."""
    params = Params()
    where = await filter_sql(params, workspace_id, chosen)
    rows = await _planned_for_values(
        f"SELECT s.id FROM subscribers s WHERE {where} LIMIT {params.add(COUNT_CAP + 1)}", params)
    return [row["id"] for row in rows]


async def _first_page(workspace_id: int, chosen: SubscriberFilter, sort: str) -> tuple[list[dict], str, Total]:
    """The first page and the total from one pass over the search index where the counters cannot say.

    A search index is read once: its matches give the count, and when they are all there (at most COUNT_CAP)
    the page is picked from them by id. Past the cap the filter is dense, and walking the ids finds a page.
    """
    if chosen.counted_by_lists():
        rows, cursor = await search(workspace_id, chosen, sort)
        return rows, cursor, await total(workspace_id, chosen)
    found = await _matches(workspace_id, chosen)
    if len(found) > COUNT_CAP:
        rows, cursor = await search(workspace_id, chosen, sort, dense=True)
        return rows, cursor, Total(COUNT_CAP, capped=True)
    # Newest first needs only the highest ids; by email, PostgreSQL sorts them, in the collation pages use.
    candidates = found if sort == "email" else sorted(found, reverse=True)[:PAGE_SIZE + 1]
    rows, cursor = await search(workspace_id, SubscriberFilter(ids=candidates), sort) if candidates else ([], "")
    return rows, cursor, Total(len(found))


async def table_page(
    workspace_id: int, chosen: SubscriberFilter, sort: str, after: tuple[str, int] | None
) -> TablePage:
    """A page of the table: rows with why each is not mailable (one query for the page), and the filter's
    total on the first page."""
    counted = None
    if after:
        rows, cursor = await search(workspace_id, chosen, sort, after)
    else:
        rows, cursor, counted = await _first_page(workspace_id, chosen, sort)
    suppressed = await mailable.suppressions_of(workspace_id, [row["email"] for row in rows])
    for row in rows:
        row["not_mailable"] = [entry.label for entry in suppressed.get(row["email"], [])]
    return TablePage(rows, cursor, counted)


async def field_columns(workspace_id: int) -> list[dict]:
    """The custom fields the table can show as columns: each tag once, labelled as its first list names it."""
    params = Params()
    return await fetch(
        "SELECT tag, label FROM (SELECT DISTINCT ON (tag) tag, label FROM list_fields "
        f"WHERE workspace_id = {params.add(checked_workspace_id(workspace_id))} ORDER BY tag, list_id) f "
        "ORDER BY label",
        params,
    )


async def subscribers_after(workspace_id: int, chosen: SubscriberFilter, after_id: int | None, limit: int, *,
                            email_prefix: str = "", updated_since: datetime | None = None) -> list[dict]:
    """Up to `limit` subscribers the filter matches, by id after `after_id` (the API's keyset pages); an
    address prefix and a last-change time narrow it further."""
    params = Params()
    parts = [await filter_sql(params, workspace_id, chosen)]
    if after_id:
        parts.append(f"s.id > {params.add(after_id)}")
    if email_prefix:
        escaped = email_prefix.strip().lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        parts.append(f"s.email LIKE {params.add(escaped + '%')}")
    if updated_since:
        parts.append(f"s.updated_at >= {params.add(updated_since)}")
    rows = await fetch(f"SELECT s.* FROM subscribers s WHERE {' AND '.join(parts)} ORDER BY s.id "
                       f"LIMIT {params.add(limit)}", params)
    for row in rows:
        if isinstance(row["fields"], str):
            row["fields"] = json.loads(row["fields"])
    return rows
