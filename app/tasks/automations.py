"""Automations: due flow steps advanced in batches, on any number of workers."""

from __future__ import annotations

import dramatiq

from app.services.accounts import now
from app.services.automations import scheduled_triggers
from app.tasks.broker import broker


@dramatiq.actor(broker=broker, queue_name="automations", max_retries=0, time_limit=120_000)
def advance_flows() -> None:
    """Due flow steps advanced, batch after batch, for most of a minute."""


@dramatiq.actor(broker=broker, queue_name="automations", max_retries=0, time_limit=600_000)
async def enrol_due_dates() -> None:
    """Date flows (birthdays, anniversaries): the subscribers whose local day and time have come, enrolled once
    per day; a run that comes late still catches the rest of that local day."""
    await scheduled_triggers.enrol_due_dates(now())


@dramatiq.actor(broker=broker, queue_name="automations", max_retries=0, time_limit=600_000)
async def enrol_segment_entrants() -> None:
    """Segment flows: the subscribers who entered each segment since the last check, enrolled."""
    await scheduled_triggers.enrol_segment_entrants(now())
