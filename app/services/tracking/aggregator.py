"""The aggregator: stream entries into `events` and the engagement figures, exactly once.

Each aggregator is a consumer of one Redis consumer group. A batch is read, written to PostgreSQL in one
transaction (one statement, app/services/sql/tracking.sql `record`), and only then acknowledged, so an
aggregator that dies mid-batch leaves its entries pending; the next run (or another aggregator, once the
entries have been idle for TRACKING_RECLAIM_AFTER_SECONDS) claims and writes them again, and the unique
stream id in each row makes the second write a no-op. Aggregators take turns on the transaction (an
advisory lock), which keeps the unique-open arithmetic right and costs little: one batch of thousands of
events is one statement.

User-Agent parsing happens here, never on the hot path, with a cache since a few clients send most
opens. The robot rules of a later step decide `kind` (machine opens, bot clicks) from what is parsed here.
"""

from __future__ import annotations

import json
import os
import socket
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import ResponseError
from ua_parser import parse

from app.logs import get_logger
from app.piccolo_conf import DB
from app.services import statements
from app.services.sqlparams import fetch_positional
from app.services.tracking.events import CLICK, GROUP, OPEN, STREAM, StreamEvent, entry_events
from app.services.tracking.figures import raise_figures
from app.services.tracking.tokens import TrackingKeys, delivery_ref

log = get_logger("ignite.tracking")
_LOCK = "SELECT pg_advisory_xact_lock(hashtext('ignite:tracking:aggregate'))"

Entry = tuple[str, dict[str, str]]


@dataclass(frozen=True)
class Drained:
    read: int = 0  # stream entries
    recorded: int = 0  # events inserted now (not those already stored)
    dropped: int = 0  # events that were not usable


def consumer_name() -> str:
    """Unique per run: runs in one process share its thread and must not share pending entries."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


async def ensure_group(redis: Redis, stream: str = STREAM) -> None:
    """The consumer group, reading from the stream's first entry so nothing appended before it is missed."""
    try:
        await redis.xgroup_create(stream, GROUP, id="0", mkstream=True)
    except ResponseError as error:
        if "BUSYGROUP" not in str(error):
            raise


@lru_cache(maxsize=4096)
def agent_details(agent: str) -> tuple[str, str, str]:
    """(client, operating system, device) families of a User-Agent, '' when unknown."""
    if not agent:
        return "", "", ""
    result = parse(agent)
    if result is None:
        return "", "", ""
    known = result.with_defaults()
    return known.user_agent.family, known.os.family, known.device.family


def _row(event: StreamEvent | None, keys: TrackingKeys) -> tuple | None:
    """One event's column values, or None when it is unusable (never written by our hot path)."""
    ref = delivery_ref(keys, event.token) if event is not None else None
    if event is None or ref is None or event.kind not in (OPEN, CLICK):
        return None
    client, system, device = agent_details(event.agent)
    meta = {"ua": event.agent, "ip": event.address, "client": client, "os": system, "device": device}
    occurred_at = datetime.fromtimestamp(event.at_us / 1_000_000, UTC)
    return (event.stream_id, ref.workspace_id, ref.campaign_id, ref.delivery_id, event.kind, event.link,
            event.url, json.dumps(meta), occurred_at)


def _columns(rows: Iterable[tuple]) -> list[list[Any]]:
    columns: list[list[Any]] = [[] for _ in range(9)]
    for row in rows:
        for column, value in zip(columns, row, strict=True):
            column.append(value)
    return columns


async def record(entries: list[Entry], keys: TrackingKeys) -> tuple[dict[str, Any], int]:
    """Writes the batch in one transaction; returns the statement's result and the events dropped."""
    events = [event for entry_id, fields in entries for event in entry_events(entry_id, fields)]
    rows = [row for row in (_row(event, keys) for event in events) if row]
    if not rows:
        return {"recorded": 0, "subscribers": 0, "campaigns": "[]"}, len(events)
    async with DB.transaction():
        await fetch_positional(_LOCK, [])
        result = (await statements.run("tracking.record", *_columns(rows)))[0]
    return result, len(events) - len(rows)


async def _publish(redis: Redis, stream: str, entry_ids: list[str], campaigns: list[dict[str, Any]]) -> None:
    """The campaigns' figures as they now stand, and the acknowledgement, in one round trip."""
    pipeline = redis.pipeline(transaction=True)
    for figures in campaigns:
        raise_figures(pipeline, figures["workspace_id"], figures["campaign_id"], figures)
    pipeline.xack(stream, GROUP, *entry_ids)
    await pipeline.execute()


async def process(redis: Redis, entries: list[Entry], keys: TrackingKeys, stream: str = STREAM,
                  before_ack: Callable[[], Awaitable[None]] | None = None) -> Drained:
    """Record a batch, then acknowledge it. `before_ack` is where tests make an aggregator die."""
    if not entries:
        return Drained()
    result, dropped = await record(entries, keys)
    if before_ack is not None:
        await before_ack()
    await _publish(redis, stream, [entry_id for entry_id, _ in entries], json.loads(result["campaigns"]))
    if dropped:
        log.warning("tracking_entries_dropped", count=dropped)
    return Drained(read=len(entries), recorded=result["recorded"], dropped=dropped)


async def _claimed(redis: Redis, stream: str, consumer: str, idle_ms: int, count: int) -> list[Entry]:
    """Entries another aggregator read but never acknowledged (it died), now this consumer's."""
    _, entries, *_ = await redis.xautoclaim(stream, GROUP, consumer, idle_ms, "0-0", count=count)
    return [(entry_id, fields) for entry_id, fields in entries if fields]


async def drain_once(redis: Redis, keys: TrackingKeys, consumer: str, *, batch_size: int, block_ms: int,
                     reclaim_after_ms: int, stream: str = STREAM,
                     before_ack: Callable[[], Awaitable[None]] | None = None) -> Drained:
    """One batch: abandoned entries first, else new ones (waiting up to `block_ms` for some; 0: no wait)."""
    entries = await _claimed(redis, stream, consumer, reclaim_after_ms, batch_size)
    if not entries:
        answer = await redis.xreadgroup(GROUP, consumer, {stream: ">"}, count=batch_size, block=block_ms or None)
        entries = [(entry_id, fields) for _, found in answer or [] for entry_id, fields in found]
    return await process(redis, entries, keys, stream, before_ack)


async def trim(redis: Redis, stream: str = STREAM) -> None:
    """Drop the entries every aggregator has acknowledged; pending and unread ones stay."""
    groups = {group["name"]: group for group in await redis.xinfo_groups(stream)}
    group = groups.get(GROUP)
    if group is None:
        return
    pending = await redis.xpending(stream, GROUP)
    last = str(group["last-delivered-id"])
    milliseconds, _, sequence = last.partition("-")
    keep_from = pending["min"] if pending["pending"] else f"{milliseconds}-{int(sequence or 0) + 1}"
    await redis.xtrim(stream, minid=keep_from, approximate=False)


async def aggregate_for(redis: Redis, keys: TrackingKeys, seconds: float, *, batch_size: int,
                        reclaim_after_ms: int, trim_every: float = 5.0) -> Drained:
    """Drain the stream for about `seconds` (an actor's run), trimming what is done as it goes."""
    await ensure_group(redis)
    consumer = consumer_name()
    deadline = time.monotonic() + seconds
    trimmed_at = time.monotonic()
    total = Drained()
    while time.monotonic() < deadline:
        drained = await drain_once(redis, keys, consumer, batch_size=batch_size, block_ms=1000,
                                   reclaim_after_ms=reclaim_after_ms)
        total = Drained(total.read + drained.read, total.recorded + drained.recorded,
                        total.dropped + drained.dropped)
        if time.monotonic() - trimmed_at >= trim_every:
            await trim(redis)
            trimmed_at = time.monotonic()
    await trim(redis)
    # A consumer deleted with entries pending would strand them: only an emptied one goes.
    if not await redis.xpending_range(STREAM, GROUP, min="-", max="+", count=1, consumername=consumer):
        await redis.xgroup_delconsumer(STREAM, GROUP, consumer)
    return total
