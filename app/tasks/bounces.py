"""Bounce actors: reports processed as they arrive, and a sweep for the ones a lost message left behind."""

from __future__ import annotations

import dramatiq

from app.redis_client import get_redis
from app.services.bounces import processing
from app.tasks.broker import broker

# A report is processed in its own transaction; a batch of them is small enough to finish well inside this.
PROCESS_TIME_LIMIT_MS = 300_000


@dramatiq.actor(broker=broker, queue_name="bounces", max_retries=3, time_limit=PROCESS_TIME_LIMIT_MS)
async def process_reports(report_ids: list[int]) -> None:
    """Parse, match and act on these stored reports; ones already processed are skipped."""
    await processing.process_reports(get_redis(), report_ids)


@dramatiq.actor(broker=broker, queue_name="bounces", max_retries=0, time_limit=PROCESS_TIME_LIMIT_MS)
async def sweep_bounce_reports() -> None:
    """Process reports stored but never processed (a task lost between `accept` and the worker)."""
    await processing.sweep(get_redis())
