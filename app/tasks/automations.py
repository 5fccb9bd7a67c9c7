"""Automations: due flow steps advanced in batches, on any number of workers."""

from __future__ import annotations

import dramatiq

from app.tasks.broker import broker


@dramatiq.actor(broker=broker, queue_name="automations", max_retries=0, time_limit=120_000)
def advance_flows() -> None:
    """Due flow steps advanced, batch after batch, for most of a minute."""
