"""The aggregator: stream entries into `events` and the engagement figures, exactly once.

Each aggregator is a consumer of one Redis consumer group. A batch is read, written to PostgreSQL in one
transaction (one statement, app/services/sql/tracking.sql `record`), and only then acknowledged, so an
aggregator that dies mid-batch leaves its entries pending; the next run (or another aggregator, once the
entries have been idle for TRACKING_RECLAIM_AFTER_SECONDS) claims and writes them again, and the unique
stream id in each row makes the second write a no-op. Aggregators take turns on the transaction (an
advisory lock), which keeps the unique-open arithmetic right and costs little: one batch of thousands of
events is one statement. While PostgreSQL writes one batch, the aggregator reads and prepares the next
(parsing, tokens, robot rules), so the two cores work side by side; the next batch's robot rules are
given the clicks of the batch still being written, which they could not read from the table yet.

User-Agent parsing and the robot rules (app/services/tracking/robots.py) happen here, never on the hot
path: an open or click a rule flags is stored as a `machine_open` or `bot_click` naming the rule in
`meta.rule`. After the commit, one pipeline raises each campaign's figures, publishes one summary per
campaign to the activity feed and acknowledges the batch.
"""

from __future__ import annotations

import asyncio
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
from app.services import activity, statements
from app.services.automations import triggers as flow_triggers
from app.services.sqlparams import fetch_positional
from app.services.tracking.engagement import score_arguments
from app.services.tracking.events import CLICK, GROUP, MAX_BATCH, OPEN, STREAM, StreamEvent, entry_events
from app.services.tracking.figures import raise_figures
from app.services.tracking.robots import ROBOT_KINDS, Rule, Sighting, robot_rules_for
from app.services.tracking.tokens import DeliveryRef, TrackingKeys, delivery_ref
from app.services.webhooks import producers as webhook_events

log = get_logger("ignite.tracking")
_LOCK = "SELECT pg_advisory_xact_lock(hashtext('ignite:tracking:aggregate'))"
_SHARED_LOCK = "SELECT pg_advisory_xact_lock_shared(hashtext('ignite:tracking:aggregate'))"

Entry = tuple[str, dict[str, str]]
# A batch's clicks per delivery: (time, link index).
Clicks = dict[int, list[tuple[datetime, int | None]]]
NOTHING_RECORDED = {"recorded": 0, "subscribers": 0, "campaigns": "[]"}
WEB_VIEW = "web_view"
# The kinds the public endpoints append; robots' kinds are decided here.
STREAM_KINDS = (OPEN, CLICK, WEB_VIEW)


@dataclass(frozen=True)
class Drained:
    read: int = 0  # stream entries
    recorded: int = 0  # events inserted now (not those already stored)
    dropped: int = 0  # events that were not usable

    def __add__(self, other: Drained) -> Drained:
        return Drained(self.read + other.read, self.recorded + other.recorded, self.dropped + other.dropped)


@dataclass(frozen=True)
class Prepared:
    """A batch ready to be written: its entries, the events' column values, what was not usable."""

    entry_ids: list[str]
    rows: list[tuple]
    dropped: int
    clicks: Clicks

    def events_per_entry(self) -> float:
        return (len(self.rows) + self.dropped) / len(self.entry_ids) if self.entry_ids else 0.0


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


# A message's token comes back with each of its opens and clicks: checked once, remembered.
_checked_ref = lru_cache(maxsize=65_536)(delivery_ref)


def _usable(events: Iterable[StreamEvent | None], keys: TrackingKeys) -> list[tuple[StreamEvent, DeliveryRef]]:
    """The events with a valid token and a known kind (anything else was never written by our endpoints)."""
    usable = []
    for event in events:
        ref = _checked_ref(keys, event.token) if event is not None and event.kind in STREAM_KINDS else None
        if event is not None and ref is not None:
            usable.append((event, ref))
    return usable


def _sighting(event: StreamEvent, ref: DeliveryRef) -> Sighting:
    return Sighting(ref.workspace_id, ref.delivery_id, event.kind, event.agent, event.address,
                    datetime.fromtimestamp(event.at_us / 1_000_000, UTC), event.link)


def _row(event: StreamEvent, ref: DeliveryRef, sighting: Sighting, robot: Rule | None) -> tuple:
    """One event's column values; a robot's open or click gets its own kind and names the rule."""
    client, system, device = agent_details(event.agent)
    meta: dict[str, Any] = {"ua": event.agent, "ip": event.address, "client": client, "os": system,
                            "device": device}
    kind = event.kind
    if robot is not None:
        kind = ROBOT_KINDS[event.kind]
        meta.update(rule=robot.name, rule_id=robot.id)
    return (event.stream_id, ref.workspace_id, ref.campaign_id, ref.delivery_id, kind, event.link, event.url,
            json.dumps(meta), sighting.at)


def _columns(rows: Iterable[tuple]) -> list[list[Any]]:
    columns: list[list[Any]] = [[] for _ in range(9)]
    for row in rows:
        for column, value in zip(columns, row, strict=True):
            column.append(value)
    return columns


def _clicks(sightings: Iterable[Sighting]) -> Clicks:
    clicks: Clicks = {}
    for sighting in sightings:
        if sighting.kind == CLICK:
            clicks.setdefault(sighting.delivery_id, []).append((sighting.at, sighting.link))
    return clicks


async def prepare(entries: list[Entry], keys: TrackingKeys, clicks_in_flight: Clicks | None = None) -> Prepared:
    """The batch's rows, robots judged; `clicks_in_flight` are those of a batch being written meanwhile."""
    events = [event for entry_id, fields in entries for event in entry_events(entry_id, fields)]
    usable = _usable(events, keys)
    sightings = [_sighting(event, ref) for event, ref in usable]
    robots = await robot_rules_for(sightings, clicks_in_flight or {})
    rows = [_row(event, ref, sighting, robot)
            for (event, ref), sighting, robot in zip(usable, sightings, robots, strict=True)]
    return Prepared([entry_id for entry_id, _ in entries], rows, len(events) - len(rows), _clicks(sightings))


async def wait_for_aggregation() -> None:
    """First in a transaction that moves what an aggregator batch moves (campaign figures, rollups, subscribers):
    it waits for a batch being written and keeps the next one out until it commits. Such writers still run beside
    each other; only their interleaving with a batch, which locks the same rows in another order and deadlocked,
    is ruled out."""
    await fetch_positional(_SHARED_LOCK, [])


async def _stored(rows: list[tuple]) -> dict[str, Any]:
    """Writes the rows in one transaction; the statement's result."""
    if not rows:
        return NOTHING_RECORDED
    async with DB.transaction():
        await fetch_positional(_LOCK, [])
        return (await statements.run("tracking.record", *_columns(rows), *score_arguments()))[0]


async def _publish(redis: Redis, stream: str, entry_ids: list[str], campaigns: list[dict[str, Any]]) -> None:
    """The campaigns' figures as they now stand, the activity feed's summaries and the acknowledgement, in
    one round trip."""
    pipeline = redis.pipeline(transaction=True)
    for figures in campaigns:
        raise_figures(pipeline, figures["workspace_id"], figures["campaign_id"], figures)
        if (entry := activity.engagement_entry(figures)) is not None:
            activity.queue_publish(pipeline, figures["workspace_id"], entry)
    pipeline.xack(stream, GROUP, *entry_ids)
    await pipeline.execute()


async def write(redis: Redis, prepared: Prepared, stream: str = STREAM,
                before_ack: Callable[[], Awaitable[None]] | None = None) -> Drained:
    """Record a prepared batch, then acknowledge it. `before_ack` is where tests make an aggregator die."""
    if not prepared.entry_ids:
        return Drained()
    result = await _stored(prepared.rows)
    await webhook_events.engagement(prepared.rows)
    if result["recorded"]:  # a batch written before (its aggregator died before the ack) enrols no one again
        await flow_triggers.engagement(prepared.rows)
    if before_ack is not None:
        await before_ack()
    await _publish(redis, stream, prepared.entry_ids, json.loads(result["campaigns"]))
    if prepared.dropped:
        log.warning("tracking_entries_dropped", count=prepared.dropped)
    return Drained(read=len(prepared.entry_ids), recorded=result["recorded"], dropped=prepared.dropped)


async def process(redis: Redis, entries: list[Entry], keys: TrackingKeys, stream: str = STREAM,
                  before_ack: Callable[[], Awaitable[None]] | None = None) -> Drained:
    return await write(redis, await prepare(entries, keys), stream, before_ack)


async def _claimed(redis: Redis, stream: str, consumer: str, idle_ms: int, count: int) -> list[Entry]:
    """Entries another aggregator read but never acknowledged (it died), now this consumer's."""
    _, entries, *_ = await redis.xautoclaim(stream, GROUP, consumer, idle_ms, "0-0", count=count)
    return [(entry_id, fields) for entry_id, fields in entries if fields]


async def _next_entries(redis: Redis, stream: str, consumer: str, *, batch_size: int, block_ms: int,
                        reclaim_after_ms: int) -> list[Entry]:
    """Abandoned entries first, else new ones (waiting up to `block_ms` for some; 0: no wait)."""
    entries = await _claimed(redis, stream, consumer, reclaim_after_ms, batch_size)
    if not entries:
        answer = await redis.xreadgroup(GROUP, consumer, {stream: ">"}, count=batch_size, block=block_ms or None)
        entries = [(entry_id, fields) for _, found in answer or [] for entry_id, fields in found]
    return entries


async def drain_once(redis: Redis, keys: TrackingKeys, consumer: str, *, batch_size: int, block_ms: int,
                     reclaim_after_ms: int, stream: str = STREAM,
                     before_ack: Callable[[], Awaitable[None]] | None = None) -> Drained:
    """One batch, read, prepared and written."""
    entries = await _next_entries(redis, stream, consumer, batch_size=batch_size, block_ms=block_ms,
                                  reclaim_after_ms=reclaim_after_ms)
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


def entries_to_read(batch_events: int, events_per_entry: float) -> int:
    """Stream entries that hold about `batch_events` events, judged by the entries read last."""
    return max(1, min(batch_events, round(batch_events / max(1.0, events_per_entry))))


async def aggregate_for(redis: Redis, keys: TrackingKeys, seconds: float, *, batch_size: int,
                        reclaim_after_ms: int, trim_every: float = 5.0, block_ms: int = 1000,
                        until_empty: bool = False) -> Drained:
    """Drain the stream for about `seconds` (an actor's run), or until it is empty, trimming what is done as
    it goes; each batch of about `batch_size` events is read and prepared while the one before it is
    written."""
    await ensure_group(redis)
    consumer = consumer_name()
    deadline = time.monotonic() + seconds
    trimmed_at = time.monotonic()
    total = Drained()
    writing: asyncio.Task[Drained] | None = None
    clicks_in_flight: Clicks = {}
    # Until entries have been seen, as if they were full: a first batch too small costs less than one too big.
    events_per_entry = float(MAX_BATCH)
    try:
        while time.monotonic() < deadline:
            entries = await _next_entries(redis, STREAM, consumer, batch_size=entries_to_read(
                batch_size, events_per_entry), block_ms=block_ms, reclaim_after_ms=reclaim_after_ms)
            prepared = await prepare(entries, keys, clicks_in_flight)
            events_per_entry = prepared.events_per_entry() or events_per_entry
            if writing is not None:
                total, writing = total + await writing, None
            if prepared.entry_ids:
                writing = asyncio.create_task(write(redis, prepared))
                clicks_in_flight = prepared.clicks
            elif until_empty:
                break
            if time.monotonic() - trimmed_at >= trim_every:
                await trim(redis)
                trimmed_at = time.monotonic()
    finally:
        # A batch being written is finished (or, on failure, left pending for the next run to claim).
        if writing is not None:
            total = total + await writing
    await trim(redis)
    # A consumer deleted with entries pending would strand them: only an emptied one goes.
    if not await redis.xpending_range(STREAM, GROUP, min="-", max="+", count=1, consumername=consumer):
        await redis.xgroup_delconsumer(STREAM, GROUP, consumer)
    return total
