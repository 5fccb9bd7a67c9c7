"""Housekeeping actors."""

from __future__ import annotations

import dramatiq

from app.redis_client import get_redis
from app.services import housekeeping, warmup_plans
from app.tasks.broker import broker


@dramatiq.actor(broker=broker, queue_name="default", max_retries=0)
async def ping(key: str, value: str) -> None:
    """Proves a worker is consuming: writes `value` under `key` for a minute."""
    await get_redis().set(key, value, ex=60)


@dramatiq.actor(broker=broker, queue_name="default", max_retries=3, time_limit=60_000)
async def purge_expired_tokens() -> None:
    await housekeeping.purge_expired_tokens()


@dramatiq.actor(broker=broker, queue_name="default", max_retries=3, time_limit=300_000)
async def forget_old_feedback_counts() -> None:
    await housekeeping.forget_old_feedback_counts()


@dramatiq.actor(broker=broker, queue_name="default", max_retries=3, time_limit=300_000)
async def advance_warmups() -> None:
    await warmup_plans.advance_warmups(get_redis())
