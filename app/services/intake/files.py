"""The files sources took in: the history (filtered by source, status and day, newest first, keyset-paged),
one file with its quality, and the history as CSV.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from app.db.intake import IntakeFile
from app.services.analytics.periods import Period
from app.services.csv_files import CsvRows
from app.services.sqlparams import Params, fetch
from app.services.tenancy import checked_workspace_id, row_id

PAGE_SIZE = 25
CSV_CHUNK = 1000
STATUSES = {"importing": "importing", "processed": "processed", "failed": "failed", "unmatched": "no rule matched"}
TONES = {"processed": "good", "failed": "bad", "unmatched": "warn", "importing": "busy"}
CSV_COLUMNS = ("id", "source", "file", "kind", "status", "rows", "rejects", "duration_ms", "score", "invalid",
               "duplicates", "role_accounts", "disposable", "mx_failures", "import_id", "moved_to", "error",
               "seen_at", "finished_at")

_SELECT = """
SELECT f.*, s.name AS source_name
FROM intake_files f JOIN intake_sources s ON s.id = f.source_id AND s.workspace_id = f.workspace_id
WHERE f.workspace_id = {workspace} AND f.seen_at >= {start} AND f.seen_at < {end} {filters}
ORDER BY f.id DESC LIMIT {limit}
"""


@dataclass(frozen=True)
class Filters:
    period: Period
    source_id: int | None = None
    status: str = ""


@dataclass(frozen=True)
class FilePage:
    files: list[dict]
    next_before: int | None


def _sql(workspace_id: int, filters: Filters, before_id: int | None, limit: int) -> tuple[str, Params]:
    params = Params()
    workspace = params.add(checked_workspace_id(workspace_id))
    clauses = []
    if filters.source_id is not None:
        clauses.append(f"AND f.source_id = {params.add(filters.source_id)}")
    if filters.status in STATUSES:
        clauses.append(f"AND f.status = {params.add(filters.status)}")
    if before_id is not None:
        clauses.append(f"AND f.id < {params.add(before_id)}")
    sql = _SELECT.format(workspace=workspace, start=params.add(filters.period.start),
                         end=params.add(filters.period.end), filters=" ".join(clauses), limit=params.add(limit))
    return sql, params


def _shown(row: dict[str, Any]) -> dict[str, Any]:
    return {**row, "name": row["key"].rsplit("/", 1)[-1], "status_label": STATUSES.get(row["status"], row["status"]),
            "tone": TONES.get(row["status"], "busy"),
            "quality": json.loads(row["quality"]) if isinstance(row["quality"], str) else row["quality"]}


async def file_page(workspace_id: int, filters: Filters, before: object = None, limit: int = PAGE_SIZE) -> FilePage:
    """Up to `limit` files older than `before` (the newest when None), and the cursor of the next page."""
    before_id = row_id(IntakeFile, before) if before not in (None, "") else None
    sql, params = _sql(workspace_id, filters, before_id, limit + 1)
    rows = [_shown(row) for row in await fetch(sql, params)]
    page = rows[:limit]
    return FilePage(files=page, next_before=page[-1]["id"] if len(rows) > limit else None)


async def get_file(workspace_id: int, file_id: int) -> dict:
    """One file taken in, with its source's name; LookupError when it is not this workspace's."""
    pk = row_id(IntakeFile, file_id)
    rows = await fetch(
        "SELECT f.*, s.name AS source_name FROM intake_files f JOIN intake_sources s ON s.id = f.source_id "
        "WHERE f.workspace_id = $1 AND f.id = $2", _params(checked_workspace_id(workspace_id), pk or 0))
    if not rows:
        raise LookupError("intake file")
    return _shown(rows[0])


def _params(*values: Any) -> Params:
    params = Params()
    for value in values:
        params.add(value)
    return params


def _csv_row(row: dict[str, Any]) -> list[Any]:
    measured = row["quality"]
    return [row["id"], row["source_name"], row["key"], row["kind"], row["status"], row["rows"], row["rejects"],
            row["duration_ms"], row["score"], measured.get("invalid"), measured.get("duplicates"),
            measured.get("role"), measured.get("disposable"), measured.get("mx_failures"), row["import_id"],
            row["moved_to"], row["error"], row["seen_at"].isoformat(),
            row["finished_at"].isoformat() if row["finished_at"] else ""]


async def history_csv(workspace_id: int, filters: Filters) -> AsyncIterator[bytes]:
    """Every file the filters select, newest first, as CSV in chunks."""
    writer = CsvRows(CSV_COLUMNS)
    yield writer.header()
    before: int | None = None
    while True:
        page = await file_page(workspace_id, filters, before, CSV_CHUNK)
        yield writer.encode(_csv_row(row) for row in page.files)
        if page.next_before is None:
            return
        before = page.next_before
