"""Tracking actors: the aggregator that drains opens and clicks into PostgreSQL, the monthly partitions, the
engagement scores' daily decay."""

from __future__ import annotations

from datetime import UTC, datetime

import dramatiq

from app.redis_client import get_redis
from app.services.tracking import aggregator, engagement, partitions
from app.services.tracking.tokens import tracking_keys
from app.settings import get_settings
from app.tasks.broker import broker

# The scheduler starts one run a minute; each drains for most of that minute, so one is nearly always
# reading. Runs that overlap share the work through the consumer group.
AGGREGATE_SECONDS = 55


@dramatiq.actor(broker=broker, queue_name="tracking", max_retries=0, time_limit=120_000)
async def aggregate_tracking_events() -> None:
    settings = get_settings()
    await aggregator.aggregate_for(
        get_redis(), tracking_keys(settings), AGGREGATE_SECONDS, batch_size=settings.tracking.batch_size,
        reclaim_after_ms=settings.tracking.reclaim_after_seconds * 1000)


@dramatiq.actor(broker=broker, queue_name="default", max_retries=3, time_limit=300_000)
async def create_event_partitions() -> None:
    await partitions.ensure_partitions()


@dramatiq.actor(broker=broker, queue_name="default", max_retries=3, time_limit=600_000)
async def decay_engagement_scores() -> None:
    await engagement.decay_every_workspace(datetime.now(UTC))
