"""Automations: due flow steps advanced in batches, on any number of workers."""

from __future__ import annotations

import dramatiq

from app.services.accounts import now
from app.services.automations import engine, scheduled_triggers
from app.tasks.broker import broker

# The scheduler starts one run a minute; each runs for most of that minute, so due steps wait about a second.
ADVANCE_SECONDS = 50


@dramatiq.actor(broker=broker, queue_name="automations", max_retries=0, time_limit=120_000)
async def advance_flows() -> None:
    """Due flow steps advanced, batch after batch, for most of a minute. Runs that overlap (a slow minute,
    several workers) share the due rows: each claims its own with a lease."""
    await engine.advance_for(ADVANCE_SECONDS)


@dramatiq.actor(broker=broker, queue_name="automations", max_retries=0, time_limit=600_000)
async def enrol_due_dates() -> None:
    """Date flows (birthdays, anniversaries): the subscribers whose local day and time have come, enrolled once
    per day; a run that comes late still catches the rest of that local day."""
    await scheduled_triggers.enrol_due_dates(now())


@dramatiq.actor(broker=broker, queue_name="automations", max_retries=0, time_limit=600_000)
async def enrol_segment_entrants() -> None:
    """Segment flows: the subscribers who entered each segment since the last check, enrolled."""
    await scheduled_triggers.enrol_segment_entrants(now())
