"""S3 intake actors: every five minutes the sources that are due are queued for a poll and every source is
checked for a notice (failing, quiet); a poll runs on the `imports` queue, as the imports it starts do."""

from __future__ import annotations

import dramatiq
from redis.asyncio import Redis

from app.redis_client import get_redis
from app.services.accounts import now
from app.services.intake import polling, sources
from app.tasks.broker import broker
from app.tasks.imports import TIME_LIMIT_MS

# A source queued for a poll is not queued again until that poll starts (or this long has passed, if the
# message was lost), so slow workers never find a pile of polls of one source.
QUEUED_SECONDS = 3600


def queued_key(source_id: int) -> str:
    return f"ignite:intake:source:{source_id}:queued"


async def queue_due_polls(redis: Redis) -> list[int]:
    """Queue a poll of each due source not queued already, and give the notices due; the ids queued."""
    queued = []
    for row in await sources.due_sources(now()):
        if await redis.set(queued_key(row["id"]), "1", nx=True, ex=QUEUED_SECONDS):
            poll_source.send(row["workspace_id"], row["id"])
            queued.append(row["id"])
    for row in await sources.enabled_sources():
        await polling.give_notice(row, redis)
    return queued


async def poll_queued(redis: Redis, workspace_id: int, source_id: int) -> polling.PollResult | None:
    """The queued poll: the source may be queued again from now on; None when it was deleted meanwhile."""
    await redis.delete(queued_key(source_id))
    try:
        source = await sources.get_source(workspace_id, source_id)
    except LookupError:
        return None
    return await polling.poll(source, redis)


@dramatiq.actor(broker=broker, queue_name="default", max_retries=0, time_limit=60_000)
async def poll_due_sources() -> None:
    await queue_due_polls(get_redis())


@dramatiq.actor(broker=broker, queue_name="imports", max_retries=0, time_limit=TIME_LIMIT_MS)
async def poll_source(workspace_id: int, source_id: int) -> None:
    await poll_queued(get_redis(), workspace_id, source_id)
