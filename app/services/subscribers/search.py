"""The subscriber table at millions of rows: one keyset page, how many match, and the columns to show."""

from __future__ import annotations

import json
from dataclasses import dataclass

from app.db.audience import Subscriber
from app.services.lists import STATUSES
from app.services.sqlparams import Params, fetch
from app.services.subscribers.filters import SubscriberFilter, filter_sql
from app.services.suppression import mailable
from app.services.tenancy import checked_workspace_id

PAGE_SIZE = 50
# Counting every match of a broad filter at millions of rows would cost more than the page itself.
COUNT_CAP = 10_000


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


async def _planned_for_values(sql: str, params: Params) -> list[dict]:
    """Rows of a search, planned for the values it was sent with.

    Prepared statements switch to a generic plan after a few runs, and a generic plan cannot see that
    `first_name=ann` or `@example5.com` is selective: it scans the whole list instead of the search indexes.
    """
    async with Subscriber._meta.db.transaction():
        await fetch("SET LOCAL plan_cache_mode = force_custom_plan")
        return await fetch(sql, params)


def _cursor_sql(params: Params, sort: str, after: tuple[str, int] | None) -> tuple[str, str]:
    """The keyset condition after the last row shown ("" on the first page), and the order."""
    if sort == "email":
        condition = f"(s.email, s.id) > ({params.add(after[0])}, {params.add(after[1])})" if after else ""
        return condition, "s.email, s.id"
    return (f"s.id < {params.add(after[1])}" if after else ""), "s.id DESC"


async def search(
    workspace_id: int, chosen: SubscriberFilter, sort: str = "newest", after: tuple[str, int] | None = None,
    limit: int = PAGE_SIZE,
) -> tuple[list[dict], str]:
    """One page of subscribers (`after` the (email, id) or id of the last row shown) and the next page's cursor
    ("" when this is the last)."""
    params = Params()
    where = await filter_sql(params, workspace_id, chosen)
    keyset, order = _cursor_sql(params, sort, after)
    rows = await _planned_for_values(
        "SELECT s.id, s.list_id, s.email, s.status, s.fields, s.created_at, s.last_open_at, s.last_click_at, "
        "s.engagement_score, l.name AS list_name FROM subscribers s JOIN lists l ON l.id = s.list_id "
        f"WHERE {where}{' AND ' + keyset if keyset else ''} ORDER BY {order} LIMIT {params.add(limit + 1)}",
        params,
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


async def table_page(
    workspace_id: int, chosen: SubscriberFilter, sort: str, after: tuple[str, int] | None
) -> TablePage:
    """A page of the table: rows with why each is not mailable (one query for the page), and the filter's
    total on the first page."""
    rows, cursor = await search(workspace_id, chosen, sort, after)
    suppressed = await mailable.suppressions_of(workspace_id, [row["email"] for row in rows])
    for row in rows:
        row["not_mailable"] = [entry.label for entry in suppressed.get(row["email"], [])]
    return TablePage(rows, cursor, None if after else await total(workspace_id, chosen))


async def field_columns(workspace_id: int) -> list[dict]:
    """The custom fields the table can show as columns: each tag once, labelled as its first list names it."""
    params = Params()
    return await fetch(
        "SELECT tag, label FROM (SELECT DISTINCT ON (tag) tag, label FROM list_fields "
        f"WHERE workspace_id = {params.add(checked_workspace_id(workspace_id))} ORDER BY tag, list_id) f "
        "ORDER BY label",
        params,
    )
