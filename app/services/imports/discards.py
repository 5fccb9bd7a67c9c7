"""Imports that were never started: discarded by the marketer, or by housekeeping once abandoned for a day.

Nothing was read from such an import's file (no subscribers, rejects or staging tables refer to it), so the
row and the file are all there is to remove.
"""

from __future__ import annotations

import asyncio
from datetime import datetime

from app.db.imports import Import
from app.services.imports.control import get_import, loaded
from app.services.imports.errors import ImportStateError
from app.services.imports.sources import remove_upload
from app.services.tenancy import checked_workspace_id

# Unstarted: pending with no mapping saved yet (saving the mapping is what lets a worker take it).
DISCARD = """
DELETE FROM imports
WHERE status = 'pending' AND mapping = jsonb_build_object() AND {}
RETURNING *
"""


async def discard_import(workspace_id: int, import_id: int) -> dict:
    """Remove an import that was never started, with its file; returns what it was."""
    if await get_import(workspace_id, import_id) is None:
        raise LookupError("import")
    deleted = await Import.raw(DISCARD.format("workspace_id = {} AND id = {}"), checked_workspace_id(workspace_id),
                               import_id)
    if not deleted:
        raise ImportStateError("This import has been started meanwhile, so it cannot be discarded.")
    row = loaded(deleted[0])
    await asyncio.to_thread(remove_upload, row)
    return row


async def discard_unstarted(created_before: datetime) -> list[dict]:
    """Remove the imports of every workspace left unstarted since `created_before`, with their files
    (housekeeping: an upload whose mapping was abandoned would otherwise wait in the history forever)."""
    deleted = [loaded(row) for row in await Import.raw(DISCARD.format("created_at < {}"), created_before)]
    for row in deleted:
        await asyncio.to_thread(remove_upload, row)
    return deleted
