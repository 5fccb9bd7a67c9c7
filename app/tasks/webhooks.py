"""Outbound webhooks: each event posted to its endpoints, retried with backoff."""

from __future__ import annotations

import dramatiq

from app.tasks.broker import broker


@dramatiq.actor(broker=broker, queue_name="webhooks", max_retries=0, time_limit=60_000)
def retry_due_webhooks() -> None:
    """Webhook deliveries whose retry time has come, posted again."""
