"""Running an import from its cursor to the end: claim it, read and write batch after batch, finish with a record.

Reading and validating (CPU work in Python) happen in a thread one batch
ahead, while the database writes the previous batch, so both cores work.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from typing import Any

import asyncpg
from redis.asyncio import Redis

from app.logs import get_logger
from app.piccolo_conf import DB
from app.services import audit
from app.services.automations import triggers as flow_triggers
from app.services.imports import progress
from app.services.imports.batches import BATCH_ROWS, BatchReader, Cursor
from app.services.imports.errors import ImportProblem, ImportSuperseded
from app.services.imports.loading import Loader, Totals, seen_table
from app.services.imports.rows import RowBuilder, defaults_json
from app.services.imports.sources import remove_upload, source_of
from app.services.tenancy import checked_workspace_id
from app.services.webhooks import producers as webhook_events

log = get_logger("ignite.imports")

CLAIM = """
UPDATE imports SET status = 'running', started_at = coalesce(started_at, now()), error = '',
    options = jsonb_set(options, '{cursor}',
                        coalesce(options->'cursor', '{}'::jsonb) || jsonb_build_object('run', $3::text))
WHERE id = $1 AND workspace_id = $2 AND status = 'pending'
RETURNING *
"""
FINISH = """
UPDATE imports SET status = $3::varchar, error = $4, finished_at = now(),
    processed_bytes = CASE WHEN $3::varchar = 'completed' THEN total_bytes ELSE processed_bytes END,
    options = CASE WHEN $3::varchar = 'completed' THEN options #- '{s3,sealed_secret}' ELSE options END
WHERE id = $1 AND workspace_id = $2 AND status = 'running' AND options->'cursor'->>'run' = $5
RETURNING *
"""


async def connect() -> asyncpg.Connection:
    """A connection of its own: a long import holds it for minutes and needs its session's temporary table."""
    return await asyncpg.connect(DB.config["dsn"])


def as_row(record: asyncpg.Record) -> dict[str, Any]:
    row = dict(record)
    for key in ("mapping", "options"):
        if isinstance(row.get(key), str):
            row[key] = json.loads(row[key])
    return row


async def list_fields(db: asyncpg.Connection, workspace_id: int, list_id: int | None) -> list[dict]:
    if list_id is None:
        return []
    rows = await db.fetch(
        "SELECT tag, label, kind, required, default_value, options FROM list_fields "
        "WHERE workspace_id = $1 AND list_id = $2 ORDER BY position, id", workspace_id, list_id)
    return [{**dict(r), "options": json.loads(r["options"])} for r in rows]


async def run_import(workspace_id: int, import_id: int, redis: Redis, batch_rows: int = BATCH_ROWS) -> dict | None:
    """Run a pending import to its end; returns the final row, or None when there was nothing to run."""
    db = await connect()
    try:
        run = uuid.uuid4().hex
        claimed = await db.fetchrow(CLAIM, import_id, checked_workspace_id(workspace_id), run)
        if claimed is None:
            return None
        row = as_row(claimed)
        await progress.beat(redis, import_id)
        await progress.publish(redis, progress.snapshot(row))
        try:
            outcome = await _load(db, row, redis, batch_rows)
        except ImportSuperseded:
            log.info("import_superseded", import_id=import_id)
            return None
        except ImportProblem as exc:
            return await _finish(db, row, redis, "failed", str(exc))
        except Exception as exc:
            log.exception("import_crashed", import_id=import_id)
            await _finish(db, row, redis, "failed", f"The import stopped on an unexpected error "
                                                    f"({exc.__class__.__name__}). Resume it or roll it back.")
            raise
        return await _finish(db, row, redis, outcome, "")
    finally:
        await db.close()


ANALYZE_AFTER_ROWS = 50_000


async def _load(db: asyncpg.Connection, row: dict[str, Any], redis: Redis, batch_rows: int) -> str:
    """Commit batches until the source ends ("completed") or a cancel is asked for between batches ("cancelled")."""
    mapping = row["mapping"]
    if not isinstance(mapping.get("email"), int):
        raise ImportProblem("No column is mapped to the email address, so nothing can be imported. "
                            "Roll this import back and map the email column.")
    stored = row["options"].get("cursor", {})
    cursor = Cursor(**stored)
    fields = await list_fields(db, row["workspace_id"], row["list_id"])
    source = await asyncio.to_thread(source_of, row)
    reader = BatchReader(source, row["options"], cursor, RowBuilder(mapping, fields), batch_rows)
    loader = Loader(db, row, defaults_json(fields))
    await loader.prepare(fresh="row" not in stored)
    totals = Totals.of(row)
    ahead = asyncio.ensure_future(asyncio.to_thread(reader.next_batch))
    try:
        while (batch := await ahead) is not None:
            if await progress.cancel_requested(redis, row["id"]):
                return "cancelled"
            ahead = asyncio.ensure_future(asyncio.to_thread(reader.next_batch))
            totals = await loader.commit(batch, totals, cursor)
            cursor = batch.cursor
            row.update(vars(totals), processed_bytes=batch.processed_bytes)
            row["options"]["cursor"] = cursor.as_json()
            await progress.beat(redis, row["id"])
            await progress.publish(redis, progress.snapshot(row))
        return "completed"
    finally:
        if not ahead.done():
            with contextlib.suppress(Exception):
                await ahead
        reader.close()


async def _finish(db: asyncpg.Connection, row: dict[str, Any], redis: Redis, status: str, error: str) -> dict | None:
    finished = await db.fetchrow(FINISH, row["id"], row["workspace_id"], status, error,
                                 row["options"]["cursor"]["run"])
    if finished is None:
        return None
    final = as_row(finished)
    if status == "completed":
        await db.execute(f"DROP TABLE IF EXISTS {seen_table(final['id'])}")
        await asyncio.to_thread(remove_upload, final)
        if final["inserted"] >= ANALYZE_AFTER_ROWS:
            # Fresh statistics at once: until autovacuum gets round to it, the planner would still see
            # the small list and pick plans (e.g. walking the primary key) that crawl at a million rows.
            await db.execute("ANALYZE subscribers")
    await progress.stop_beating(redis, final["id"])
    await progress.publish(redis, progress.snapshot(final))
    await audit.record(redis, final["workspace_id"], audit.SYSTEM, f"import.{status}", "import", final["id"],
                       {name: final[name] for name in progress.COUNTERS} | ({"error": error} if error else {}))
    await webhook_events.import_finished(final)
    await flow_triggers.imported(final)
    return final
