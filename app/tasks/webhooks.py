"""Outbound webhooks: each event posted to its endpoints, retried with backoff."""

from __future__ import annotations

import dramatiq

from app.redis_client import get_redis
from app.services import webhooks
from app.services.webhooks.delivery import deliver_until_idle, forget_old
from app.tasks.broker import broker

# A run stops taking new deliveries after this long; what is left waits for the next wake or minute.
RUN_SECONDS = 50


@dramatiq.actor(broker=broker, queue_name="webhooks", max_retries=0, time_limit=120_000)
async def deliver_webhooks() -> None:
    """Deliveries queued just now, posted."""
    await deliver_until_idle(get_redis(), RUN_SECONDS)


@dramatiq.actor(broker=broker, queue_name="webhooks", max_retries=0, time_limit=120_000)
async def retry_due_webhooks() -> None:
    """Webhook deliveries whose retry time has come, posted again; the log's old rows forgotten hourly."""
    await deliver_until_idle(get_redis(), RUN_SECONDS)
    await forget_old(get_redis())


def _wake(delay_seconds: float) -> None:
    deliver_webhooks.send_with_options(delay=int(delay_seconds * 1000) or None)


webhooks.wake_with(_wake)
