"""Automations: due flow steps advanced in batches, on any number of workers."""

from __future__ import annotations

from collections.abc import Callable

import asyncpg
import dramatiq

from app.piccolo_conf import DB
from app.services.accounts import now
from app.services.automations import engine, scheduled_triggers
from app.tasks.broker import broker

# The scheduler starts one run a minute; each runs for most of that minute, so due steps wait about a second.
ADVANCE_SECONDS = 50


@dramatiq.actor(broker=broker, queue_name="automations", max_retries=0, time_limit=120_000)
async def advance_flows() -> None:
    """Due flow steps advanced, batch after batch, for most of a minute. Runs that overlap (a slow minute,
    several workers) share the due rows: each claims its own with a lease."""
    closing = _closing_of(DB.pool)
    try:
        await engine.advance_for(ADVANCE_SECONDS, stopping=closing)
    except asyncpg.InterfaceError:
        # The pool closed under a batch: the worker is shutting down (Ctrl-C, a deploy). The batch's rows stay
        # leased and the next worker runs them once the lease has passed.
        if not closing():
            raise


def _closing_of(pool: asyncpg.Pool | None) -> Callable[[], bool]:
    """Whether the worker is shutting down: it closes the run's database pool first (app.tasks.middleware),
    and a run must not carry on over fresh connections until its minute is up."""
    return lambda: pool is not None and pool.is_closing()


@dramatiq.actor(broker=broker, queue_name="automations", max_retries=0, time_limit=600_000)
async def enrol_due_dates() -> None:
    """Date flows (birthdays, anniversaries): the subscribers whose local day and time have come, enrolled once
    per day; a run that comes late still catches the rest of that local day."""
    await scheduled_triggers.enrol_due_dates(now())


@dramatiq.actor(broker=broker, queue_name="automations", max_retries=0, time_limit=600_000)
async def enrol_segment_entrants() -> None:
    """Segment flows: the subscribers who entered each segment since the last check, enrolled."""
    await scheduled_triggers.enrol_segment_entrants(now())
