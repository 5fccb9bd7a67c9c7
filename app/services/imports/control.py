"""An import's life as the marketer drives it: create, map and start, cancel, resume, roll back; its history.

Every statement names the workspace; an import of another workspace is not found.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from redis.asyncio import Redis

from app.db.imports import Import
from app.services import suppression
from app.services.accounts import now
from app.services.custom_fields import fields_of
from app.services.imports import progress
from app.services.imports.errors import ImportProblem, ImportStateError
from app.services.imports.formats import ENCODINGS
from app.services.imports.loading import seen_table
from app.services.imports.mapping import Analysis, analyse, checked_mapping, mapping_from_choices
from app.services.imports.runner import as_row, connect
from app.services.imports.sources import (
    S3Location,
    S3Objects,
    cache_folder,
    remove_upload,
    seal,
    source_of,
)
from app.services.imports.uploads import StoredUpload
from app.services.lists import get_list
from app.services.shared_files import shared_files
from app.services.tenancy import checked_workspace_id, fetch_owned, owned_by

MODES = {
    "add": "Add new subscribers only",
    "add_update": "Add new and update the fields of existing ones",
    "unsubscribe": "Unsubscribe matching subscribers",
    "suppress": "Add the addresses to a suppression list",
}
DONE = {"map": "mapped", "cancel": "cancelled", "resume": "resumed", "rollback": "rolled back"}
DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
UNSUBSCRIBE_REVERT = """
WITH latest AS (
    SELECT DISTINCT ON (c.subscriber_id) c.subscriber_id, c.from_status, c.source
    FROM subscriber_status_changes c
    WHERE c.workspace_id = $1 AND c.subscriber_id IN (
        SELECT subscriber_id FROM subscriber_status_changes WHERE workspace_id = $1 AND source = $2)
    ORDER BY c.subscriber_id, c.id DESC
), reverted AS (
    UPDATE subscribers s SET status = l.from_status, unsubscribed_at = NULL, updated_at = now()
    FROM latest l WHERE s.id = l.subscriber_id AND l.source = $2 AND s.status = 'unsubscribed'
    RETURNING s.id, l.from_status
)
INSERT INTO subscriber_status_changes (workspace_id, subscriber_id, from_status, to_status, source)
SELECT $1, id, 'unsubscribed', from_status, $2 || ':rollback' FROM reverted
"""
SUPPRESS_REVERT = """
DELETE FROM suppression_entries WHERE workspace_id = $1 AND suppression_list_id = $2 AND reason = $3
"""


async def get_import(workspace_id: int, import_id: object) -> dict | None:
    row = await fetch_owned(Import, workspace_id, import_id)
    return loaded(row) if row else None


def loaded(row: dict) -> dict:
    return {**row, **{key: json.loads(row[key]) if isinstance(row[key], str) else row[key]
                      for key in ("mapping", "options")}}


async def history(workspace_id: int, list_id: int | None = None, limit: int = 50) -> list[dict]:
    query = Import.select().where(owned_by(Import, workspace_id))
    if list_id is not None:
        query = query.where(Import.list_id == list_id)
    return [loaded(row) for row in await query.order_by(Import.id, ascending=False).limit(limit)]


async def _insert(workspace_id: int, values: dict[str, Any]) -> dict:
    rows = await Import.insert(
        Import(workspace_id=checked_workspace_id(workspace_id), created_at=now(), **values)
    ).returning(*Import.all_columns())
    return loaded(rows[0])


async def create_from_upload(workspace_id: int, list_id: int, user_id: int | None, stored: StoredUpload) -> dict:
    """An import waiting for its mapping, for a file already in the shared store."""
    await _require_list(workspace_id, list_id)
    try:
        return await _insert(workspace_id, {
            "list_id": list_id, "source": "upload", "location": stored.key, "filename": stored.filename,
            "total_bytes": stored.size, "created_by": user_id,
        })
    except BaseException:
        await asyncio.to_thread(shared_files().delete, stored.key)
        raise


async def _require_list(workspace_id: int, list_id: int) -> None:
    if await get_list(workspace_id, list_id) is None:
        raise LookupError("list")


async def create_from_s3(workspace_id: int, list_id: int, user_id: int | None, form: dict[str, str]) -> dict:
    """An import of every object under an S3 prefix (or the one key it names), listed now to know the total size."""
    await _require_list(workspace_id, list_id)
    location = S3Location.parse(
        form.get("location", ""), region=form.get("region", "").strip(),
        endpoint_url=form.get("endpoint_url", "").strip(), access_key_id=form.get("access_key_id", "").strip(),
        sealed_secret=seal(form.get("secret_access_key", "").strip()),
    )
    found = await asyncio.to_thread(S3Objects.discover, location, cache_folder(workspace_id))
    return await _insert(workspace_id, {
        "list_id": list_id, "source": "s3", "location": location.url,
        "filename": found.parts[0].name.rsplit("/", 1)[-1] + (f" and {len(found.parts) - 1} more"
                                                              if len(found.parts) > 1 else ""),
        "total_bytes": sum(part.size for part in found.parts), "created_by": user_id,
        "options": {"s3": location.as_options(), "parts": [[part.name, part.size] for part in found.parts]},
    })


def reading_options(raw: dict[str, str]) -> dict[str, Any]:
    """Encoding, delimiter and header choices from the mapping form; empty means detect."""
    options: dict[str, Any] = {}
    if raw.get("encoding") in ENCODINGS:
        options["encoding"] = raw["encoding"]
    if raw.get("delimiter") in DELIMITER_NAMES:
        options["delimiter"] = raw["delimiter"]
    if raw.get("has_header") in ("yes", "no"):
        options["has_header"] = raw["has_header"] == "yes"
    return options


async def analyse_import(workspace_id: int, row: dict, options: dict[str, Any]) -> tuple[Analysis, list[dict]]:
    """The mapping step's view of the file, and the list's fields to map onto."""
    fields = await fields_of(workspace_id, row["list_id"])

    def read() -> Analysis:
        return analyse(source_of(row), fields, options)

    return await asyncio.to_thread(read), fields


async def mapping_preview(workspace_id: int, row: dict, options: dict[str, Any]) -> tuple[Analysis | None, list, str]:
    """What the mapping page shows: the analysis and fields, or why the file cannot be read that way (the page
    then offers other reading options, or to discard the import)."""
    try:
        analysis, fields = await analyse_import(workspace_id, row, options)
    except ImportProblem as exc:
        return None, await fields_of(workspace_id, row["list_id"]), str(exc)
    return analysis, fields, ""


async def start(workspace_id: int, import_id: int, choices: dict[int, str], mode: str,
                options: dict[str, Any], suppression_list_id: int | None = None) -> dict:
    """Save the mapping and mark the import ready for a worker; the caller enqueues it."""
    row = await get_import(workspace_id, import_id)
    if row is None:
        raise LookupError("import")
    if row["status"] != "pending" or row["mapping"]:
        raise ImportStateError("This import has already been started.")
    if mode not in MODES:
        raise ImportProblem("Choose what to do with the rows.", field="mode")
    analysis, fields = await analyse_import(workspace_id, row, options)
    mapping = checked_mapping(mapping_from_choices(choices), len(analysis.columns), fields, mode)
    if mode == "suppress":
        suppression_list_id = await _suppression_list(workspace_id, suppression_list_id)
    stored = {**row["options"], **options, "has_header": analysis.has_header,
              "status": "unconfirmed" if options.get("status") == "unconfirmed" else "confirmed"}
    updated = await Import.update({
        Import.mapping: mapping, Import.mode: mode, Import.options: stored,
        Import.suppression_list_id: suppression_list_id if mode == "suppress" else None,
    }).where(owned_by(Import, workspace_id), Import.id == import_id, Import.status == "pending").returning(
        *Import.all_columns())
    if not updated:
        raise ImportStateError("This import was cancelled meanwhile.")
    return loaded(updated[0])


async def _suppression_list(workspace_id: int, chosen: int | None) -> int:
    """The chosen suppression list of this workspace, or its blacklist."""
    if not chosen:
        return (await suppression.blacklist(workspace_id))["id"]
    if await suppression.get_list(workspace_id, chosen) is None:
        raise ImportProblem("Choose one of your suppression lists.", field="suppression_list_id")
    return chosen


def allowed_actions(row: dict, alive: bool) -> frozenset[str]:
    """What the marketer may do next; a running import whose worker stopped beating counts as stopped."""
    status, mapped = row["status"], bool(row["mapping"])
    if status == "pending":
        return frozenset({"cancel"} if mapped else {"map", "discard"})
    if status == "running":
        return frozenset({"cancel"} if alive else {"resume", "rollback"})
    if status in ("failed", "cancelled"):
        return frozenset({"resume", "rollback"} if mapped else {"rollback"})
    if status == "completed":
        return frozenset({"rollback"})
    return frozenset()


async def _require(workspace_id: int, import_id: int, action: str, redis: Redis) -> dict:
    row = await get_import(workspace_id, import_id)
    if row is None:
        raise LookupError("import")
    if action not in allowed_actions(row, await progress.is_alive(redis, import_id)):
        raise ImportStateError(f"This import is {row['status'].replace('_', ' ')}; it cannot be {DONE[action]} now.")
    return row


async def cancel(workspace_id: int, import_id: int, redis: Redis) -> dict:
    """A running import stops after its current batch; one that has not started is cancelled at once."""
    row = await _require(workspace_id, import_id, "cancel", redis)
    if row["status"] == "running":
        await progress.request_cancel(redis, import_id)
        return row
    await Import.update({Import.status: "cancelled", Import.finished_at: now()}).where(
        owned_by(Import, workspace_id), Import.id == import_id, Import.status == "pending")
    final = await get_import(workspace_id, import_id)
    await progress.publish(redis, progress.snapshot(final))
    return final


async def resume(workspace_id: int, import_id: int, redis: Redis) -> dict:
    """Back to pending, to continue after the last committed batch; the caller enqueues it."""
    row = await _require(workspace_id, import_id, "resume", redis)
    await progress.clear_cancel(redis, import_id)
    await Import.update({Import.status: "pending", Import.error: "", Import.finished_at: None}).where(
        owned_by(Import, workspace_id), Import.id == import_id, Import.status == row["status"])
    return await get_import(workspace_id, import_id)


# Values changed again after the import are overwritten too: the rollback returns the import's rows as they were.
FIELDS_REVERT = """
UPDATE subscribers s SET fields = c.previous_fields, updated_at = now()
FROM import_field_changes c
WHERE c.workspace_id = $1 AND c.import_id = $2 AND s.id = c.subscriber_id AND s.workspace_id = $1
"""


async def rollback(workspace_id: int, import_id: int, redis: Redis) -> dict:
    """Undo what the import wrote, in one transaction: the subscribers it added, the field values it
    changed, unsubscribes, suppressions."""
    await _require(workspace_id, import_id, "rollback", redis)
    db = await connect()
    try:
        async with db.transaction():
            locked = await db.fetchrow("SELECT * FROM imports WHERE id = $1 AND workspace_id = $2 FOR UPDATE",
                                       import_id, checked_workspace_id(workspace_id))
            row = as_row(locked)
            await db.execute("DELETE FROM subscribers WHERE workspace_id = $1 AND import_id = $2",
                             workspace_id, import_id)
            if row["mode"] == "add_update":
                await db.execute(FIELDS_REVERT, workspace_id, import_id)
            if row["mode"] == "unsubscribe":
                await db.execute(UNSUBSCRIBE_REVERT, workspace_id, f"import:{import_id}")
            if row["mode"] == "suppress" and row["suppression_list_id"]:
                await db.execute(SUPPRESS_REVERT, workspace_id, row["suppression_list_id"], f"import #{import_id}")
            await db.execute("UPDATE imports SET status = 'rolled_back', finished_at = now(), "
                             "options = options #- '{s3,sealed_secret}' WHERE id = $1", import_id)
        await db.execute(f"DROP TABLE IF EXISTS {seen_table(import_id)}")
    finally:
        await db.close()
    await asyncio.to_thread(remove_upload, row)
    await progress.stop_beating(redis, import_id)
    final = await get_import(workspace_id, import_id)
    await progress.publish(redis, progress.snapshot(final))
    return final

