"""Transactional messages: sent on their own queue, which campaign traffic never delays."""

from __future__ import annotations

import dramatiq

from app.tasks.broker import broker


@dramatiq.actor(broker=broker, queue_name="transactional", max_retries=0, time_limit=60_000)
def send_due_messages() -> None:
    """Scheduled messages whose time has come, queued to send."""
