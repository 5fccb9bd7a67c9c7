"""The subscribers most likely to churn, from the stored scores: a keyset-paged list and a CSV to mail them.

Pages run in the order of the (workspace, risk, subscriber) index, highest risk first; the cursor is the last
row's risk and id. The CSV starts with the address, so it imports into a list as it is (a static segment for a
re-engagement campaign).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

import asyncpg

from app.piccolo_conf import DB
from app.services.csv_files import CsvRows
from app.services.forms import FormError
from app.services.sqlparams import Params, fetch
from app.services.tenancy import checked_workspace_id

PAGE_SIZE = 25
DEFAULT_MIN_RISK = 50
FETCH_ROWS = 5000
CSV_COLUMNS = ("email", "list", "churn_risk", "engagement_score", "last_open_at", "last_click_at")


def min_risk_from(query: Mapping[str, str]) -> int:
    """The lowest risk to show, in percent (`?min_risk=`); FormError next to the field for anything but 0-100."""
    text = str(query.get("min_risk") or "").strip()
    if not text:
        return DEFAULT_MIN_RISK
    if not text.isdigit() or int(text) > 100:
        raise FormError({"min_risk": "Enter a whole percentage from 0 to 100."})
    return int(text)


def cursor_of(text: str | None) -> tuple[float, int] | None:
    """`risk:id` as the page cursor; anything else starts from the top."""
    risk, _, subscriber_id = (text or "").partition(":")
    try:
        return float(risk), int(subscriber_id)
    except ValueError:
        return None


@dataclass(frozen=True)
class AtRiskPage:
    rows: list[dict[str, Any]]
    next_cursor: str | None


async def at_risk_page(workspace_id: int, min_risk: int, after: tuple[float, int] | None = None,
                       limit: int = PAGE_SIZE) -> AtRiskPage:
    params = Params()
    workspace = params.add(checked_workspace_id(workspace_id))
    keyset = (f"AND (c.risk, c.subscriber_id) < ({params.add(after[0])}::real, {params.add(after[1])}::bigint)"
              if after else "")
    rows = await fetch(
        "SELECT c.subscriber_id, c.risk, s.email, s.engagement_score, s.last_open_at, l.name AS list_name "
        "FROM churn_scores c JOIN subscribers s ON s.id = c.subscriber_id AND s.workspace_id = c.workspace_id "
        f"JOIN lists l ON l.id = s.list_id WHERE c.workspace_id = {workspace} "
        f"AND c.risk >= {params.add(min_risk / 100)}::real {keyset} "
        f"ORDER BY c.risk DESC, c.subscriber_id DESC LIMIT {params.add(limit + 1)}", params)
    shown = rows[:limit]
    more = len(rows) > limit
    return AtRiskPage(shown, f"{shown[-1]['risk']!r}:{shown[-1]['subscriber_id']}" if more else None)


async def any_scored(workspace_id: int) -> bool:
    """Whether any subscriber of the workspace has a churn risk (a model learnt something once)."""
    params = Params()
    rows = await fetch(f"SELECT EXISTS (SELECT 1 FROM churn_scores WHERE workspace_id = "
                       f"{params.add(checked_workspace_id(workspace_id))}) AS scored", params)
    return bool(rows[0]["scored"])


async def count_at_risk(workspace_id: int, min_risk: int) -> int:
    params = Params()
    rows = await fetch(
        f"SELECT count(*) AS n FROM churn_scores WHERE workspace_id = {params.add(checked_workspace_id(workspace_id))} "
        f"AND risk >= {params.add(min_risk / 100)}::real", params)
    return rows[0]["n"]


async def at_risk_csv(workspace_id: int, min_risk: int) -> AsyncIterator[bytes]:
    """Everyone at or above the risk, highest first, through a cursor on a connection of its own."""
    csv_rows = CsvRows(CSV_COLUMNS)
    yield csv_rows.header()
    db = await asyncpg.connect(DB.config["dsn"])
    try:
        async with db.transaction(readonly=True):
            cursor = await db.cursor(
                "SELECT s.email, l.name, round(c.risk::numeric, 4), s.engagement_score, "
                "to_char(s.last_open_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), "
                "to_char(s.last_click_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') "
                "FROM churn_scores c JOIN subscribers s ON s.id = c.subscriber_id AND s.workspace_id = c.workspace_id "
                "JOIN lists l ON l.id = s.list_id WHERE c.workspace_id = $1 AND c.risk >= $2::real "
                "ORDER BY c.risk DESC, c.subscriber_id DESC", checked_workspace_id(workspace_id), min_risk / 100)
            while rows := await cursor.fetch(FETCH_ROWS):
                yield csv_rows.encode(rows)
    finally:
        await db.close()
