"""How a sending campaign shows it is alive, and how it ends.

A campaign is sent when its deliveries are all written and none is left
queued, claimed or deferred; whichever worker writes the last outcome (or the
reaper, if that worker died) marks it so, and the figures are then counted
once from the deliveries.
"""

from __future__ import annotations

import time

from redis.asyncio import Redis

from app.services import statements
from app.services.campaigns import counters
from app.services.webhooks import producers as webhook_events

PROGRESS_KEEP_SECONDS = 86400


async def note_progress(redis: Redis, campaign_id: int) -> None:
    """A worker claimed or queued part of the campaign just now: its queue is alive."""
    await redis.set(counters.key(campaign_id, "progress"), repr(time.time()), ex=PROGRESS_KEEP_SECONDS)


async def seconds_since_progress(redis: Redis, campaign_id: int) -> float | None:
    """How long since the last claim or queueing; None when unknown (Redis lost it, or never noted)."""
    raw = await redis.get(counters.key(campaign_id, "progress"))
    if raw is None:
        return None
    return time.time() - float(raw)


async def finish_if_done(redis: Redis, workspace_id: int, campaign_id: int) -> bool:
    """Mark the campaign sent when nothing is left to send, with its exact figures; True when it was."""
    if not await statements.run("campaigns.finish", workspace_id, campaign_id):
        return False
    await counters.reconcile(redis, workspace_id, campaign_id)
    await webhook_events.campaign_finished(workspace_id, campaign_id)
    return True
