"""Writing a campaign's deliveries, one chunk of subscriber ids at a time, queueing batches as each chunk lands.

Each chunk is one `INSERT ... SELECT ... ON CONFLICT (campaign_id, email) DO
NOTHING`: a person on two lists gets one row, and running a chunk twice adds
nothing, so a worker that dies mid-way is simply followed by another that
starts from the cursor stored with the last chunk. Suppression is read as each
chunk is written, so an address suppressed after launch is left out of every
chunk not yet written. The first chunk is small, so the first batches reach
the send actors at once; chunks then double up to LARGEST_CHUNK_IDS.
Each row's `next_attempt_at` (local time, best hour, sending window) is
written by the same statement (see `send_times`); only rows due at once are
queued here, the minute sweep queues the others as they fall due.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from redis.asyncio import Redis

from app.db.campaigns import Campaign
from app.piccolo_conf import DB
from app.services import statements
from app.services.accounts import now
from app.services.campaigns import counters
from app.services.campaigns.audience import Audience, exclusion_sql, id_bounds, one_list_definitions, union_sql
from app.services.campaigns.drafts import get_campaign
from app.services.campaigns.ending import finish_if_done, note_progress
from app.services.campaigns.queue import SendQueue, enqueue_ranges, id_ranges
from app.services.campaigns.send_times import advance_cursor, timing_sql, workspace_zone
from app.services.campaigns.variants import assignment_sql
from app.services.sqlparams import Params, fetch_positional
from app.services.tenancy import checked_workspace_id, owned_by
from app.settings import get_settings

FIRST_CHUNK_IDS = 2_000
LARGEST_CHUNK_IDS = 100_000
LOCK_SECONDS = 120
WRITING = ("sending", "paused")


@dataclass(frozen=True)
class ChunkStatement:
    """The chunk INSERT, built once per run; only the two bounds change from chunk to chunk."""

    sql: str
    values: list
    low_index: int
    high_index: int

    def args(self, low: int, high: int) -> list:
        values = list(self.values)
        values[self.low_index], values[self.high_index] = low, high
        return values


async def chunk_statement(workspace_id: int, campaign: Mapping[str, Any], definitions: list[dict]) -> ChunkStatement:
    params = Params()
    workspace = params.add(checked_workspace_id(workspace_id))
    audience, campaign_id = Audience.of(campaign), params.add(campaign["id"])
    variant, status = assignment_sql(campaign)
    low, high = params.add(0), params.add(0)
    union = await union_sql(workspace_id, definitions, params)
    excluded = await exclusion_sql(workspace_id, audience, params)
    # Each recipient's time is computed here, in the same statement, so a chunk costs one pass whatever the mode.
    timing = await timing_sql(params, workspace_id, campaign, await workspace_zone(workspace_id),
                              {definition["list_ids"][0] for definition in definitions},
                              campaign["started_at"] or now())
    column, value, joins = ("", "", "") if timing is None else (
        ", next_attempt_at", f", {timing.expression}", f" {timing.lateral}")
    sql = (
        f"INSERT INTO deliveries (workspace_id, campaign_id, subscriber_id, email, domain, variant, status{column}) "
        f"SELECT {workspace}, {campaign_id}, s.id, s.email, coalesce(nullif(s.email_domain, ''), "
        f"split_part(s.email, '@', 2)), {variant}, {status}{value} FROM subscribers s{joins} "
        f"WHERE s.id IN (SELECT a.id FROM ({union}) a WHERE a.id BETWEEN {low} AND {high}){excluded} "
        # The unique index's third part is 0 for a campaign's rows (a transactional row's is its id).
        "ON CONFLICT (campaign_id, email, (CASE WHEN transactional THEN id ELSE 0 END)) DO NOTHING "
        "RETURNING id, status = 'queued' AND next_attempt_at <= now() AS due, now() AS written_at"
    )
    return ChunkStatement(sql, params.values, int(low[1:]) - 1, int(high[1:]) - 1)


@dataclass(frozen=True)
class Chunk:
    """The rows one chunk wrote, those of them a worker may claim at once, and when it was written."""

    ids: list[int]
    due: list[int]
    written_at: datetime | None


async def _write_chunk(workspace_id: int, campaign_id: int, statement: ChunkStatement, low: int,
                       high: int) -> Chunk:
    """Insert one chunk and move the cursor past it, together or not at all."""
    async with DB.transaction():
        rows = await fetch_positional(statement.sql, statement.args(low, high))
        await Campaign.update({
            Campaign.materialised_through: high, Campaign.recipient_count: Campaign.recipient_count + len(rows),
            Campaign.updated_at: now(),
        }).where(owned_by(Campaign, workspace_id), Campaign.id == campaign_id)
    return Chunk([row["id"] for row in rows], [row["id"] for row in rows if row["due"]],
                 rows[0]["written_at"] if rows else None)


async def _status(workspace_id: int, campaign_id: int) -> str:
    row = await Campaign.select(Campaign.status).where(owned_by(Campaign, workspace_id),
                                                       Campaign.id == campaign_id).first()
    return row["status"] if row else "cancelled"


async def materialise(redis: Redis, queue: SendQueue, workspace_id: int, campaign_id: int,
                      chunks: int | None = None) -> int:
    """Write the campaign's remaining chunks (or the next `chunks` of them); returns the rows written.

    One writer per campaign at a time: a second caller returns at once.
    """
    lock = redis.lock(counters.key(campaign_id, "materialiser"), timeout=LOCK_SECONDS, blocking=False)
    if not await lock.acquire():
        return 0
    try:
        return await _run(redis, queue, workspace_id, campaign_id, lock.reacquire, chunks)
    finally:
        await lock.release()


async def _run(redis: Redis, queue: SendQueue, workspace_id: int, campaign_id: int,
               keep_lock: Callable[[], Awaitable[object]], chunks: int | None) -> int:
    campaign = await get_campaign(workspace_id, campaign_id)
    if campaign["materialised_at"] is not None or campaign["status"] not in WRITING:
        return 0
    audience = Audience.of(campaign)
    definitions = await one_list_definitions(workspace_id, audience)
    bounds = await id_bounds(workspace_id, definitions) if definitions else None
    statement = await chunk_statement(workspace_id, campaign, definitions) if bounds else None
    batch_size = get_settings().sending.batch_size
    cursor = campaign["materialised_through"]
    if bounds and cursor is None:
        cursor = bounds[0] - 1
    width, written = FIRST_CHUNK_IDS, 0
    if cursor is not None and bounds:
        # A later run carries on with chunks as wide as the ones it would have reached by now.
        width = min(max(FIRST_CHUNK_IDS, 2 * (cursor + 1 - bounds[0])), LARGEST_CHUNK_IDS)
    while bounds and statement and cursor < bounds[1]:
        if chunks is not None and chunks <= 0:
            return written
        chunks = None if chunks is None else chunks - 1
        high = min(cursor + width, bounds[1])
        chunk = await _write_chunk(workspace_id, campaign_id, statement, cursor + 1, high)
        written += len(chunk.ids)
        status = await _status(workspace_id, campaign_id)
        if status == "cancelled":
            # Rows of a chunk that was being written while the campaign was cancelled.
            await statements.run("campaigns.cancel-open", workspace_id, campaign_id)
            break
        enqueue_ranges(queue, workspace_id, campaign_id, id_ranges(chunk.due, batch_size))
        if chunk.written_at is not None:
            # The rest of the chunk is due later: the minute sweep queues it from here on.
            await advance_cursor(redis, campaign_id, chunk.written_at)
        await note_progress(redis, campaign_id)
        cursor, width = high, min(width * 2, LARGEST_CHUNK_IDS)
        await keep_lock()
    await Campaign.update({Campaign.materialised_at: now(), Campaign.updated_at: now()}).where(
        owned_by(Campaign, workspace_id), Campaign.id == campaign_id)
    await finish_if_done(redis, workspace_id, campaign_id)
    return written
