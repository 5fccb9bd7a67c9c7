"""The workspace's imports (subscriber files and suppression files) with their health, newest first.

Read-only: what happened to each file, for the Mailing overview and Analytics → Data imports.
Driving an import (mapping, cancel, resume, roll back) stays in `app.services.imports`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from app.services.sqlparams import Params, fetch
from app.services.tenancy import checked_workspace_id

PAGE_SIZE = 25
# Import ids are PostgreSQL integers; a cursor typed into the URL is held to their range.
LARGEST_ID = 2**31 - 1
STATUS_LABELS = {
    "waiting_for_mapping": "waiting for mapping",
    "pending": "waiting for a worker",
    "running": "importing",
    "completed": "completed",
    "failed": "failed",
    "cancelled": "cancelled",
    "rolled_back": "rolled back",
}


@dataclass(frozen=True)
class ImportHealth:
    id: int
    filename: str
    kind: str
    target: str
    status: str
    rows: int
    added: int
    updated: int
    duplicates: int
    rejected: int
    error: str
    created_at: datetime
    finished_at: datetime | None

    @property
    def is_suppression(self) -> bool:
        return self.kind == "suppression"

    @property
    def status_label(self) -> str:
        return STATUS_LABELS.get(self.status, self.status.replace("_", " "))

    @property
    def tone(self) -> str:
        """How the status reads at a glance: fine, needs a look, or failed."""
        if self.status == "failed":
            return "bad"
        if self.status == "completed" and self.rows and not self.rejected:
            return "good"
        return "warn" if self.status in ("completed", "cancelled", "rolled_back", "waiting_for_mapping") else "busy"


@dataclass(frozen=True)
class ImportPage:
    imports: list[ImportHealth]
    next_before: int | None


# One statement for a page: the imports index (workspace_id, id DESC) gives the order, the two
# primary-key joins name what each file went into. An import that has not been mapped yet is "pending"
# with an empty mapping: it waits for a person, not for a worker.
_PAGE = """
SELECT i.id, i.filename, i.mode, i.status, i.mapping = '{{}}'::jsonb AS unmapped, i.rows_seen, i.inserted,
       i.updated, i.skipped_duplicate, i.invalid + CASE WHEN i.mode = 'suppress' THEN 0 ELSE i.suppressed END
       AS rejected, i.error, i.created_at, i.finished_at, l.name AS list_name, sl.name AS suppression_name
FROM imports i
LEFT JOIN lists l ON l.id = i.list_id AND l.workspace_id = i.workspace_id
LEFT JOIN suppression_lists sl ON sl.id = i.suppression_list_id AND sl.workspace_id = i.workspace_id
WHERE i.workspace_id = {workspace} {before}
ORDER BY i.id DESC
LIMIT {limit}
"""


def _health(row: dict) -> ImportHealth:
    suppression = row["mode"] == "suppress"
    status = "waiting_for_mapping" if row["status"] == "pending" and row["unmapped"] else row["status"]
    return ImportHealth(
        id=row["id"], filename=row["filename"], kind="suppression" if suppression else "subscribers",
        target=(row["suppression_name"] if suppression else row["list_name"]) or "",
        status=status, rows=row["rows_seen"], added=row["inserted"], updated=row["updated"],
        duplicates=row["skipped_duplicate"], rejected=row["rejected"], error=row["error"],
        created_at=row["created_at"], finished_at=row["finished_at"],
    )


async def import_page(workspace_id: int, before_id: int | None = None, limit: int = PAGE_SIZE) -> ImportPage:
    """Up to `limit` imports older than `before_id` (the newest when None), and the cursor of the next page."""
    params = Params()
    workspace = params.add(checked_workspace_id(workspace_id))
    before = f"AND i.id < {params.add(max(0, min(before_id, LARGEST_ID)))}" if before_id is not None else ""
    rows = await fetch(_PAGE.format(workspace=workspace, before=before, limit=params.add(limit + 1)), params)
    page = [_health(row) for row in rows[:limit]]
    return ImportPage(imports=page, next_before=page[-1].id if len(rows) > limit else None)
