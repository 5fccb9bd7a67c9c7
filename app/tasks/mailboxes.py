"""Mailbox actors: every 30 s the mailboxes that are due are queued for a poll; a poll hands its new reports to
`process_reports`."""

from __future__ import annotations

import dramatiq
from redis.asyncio import Redis

from app.redis_client import get_redis
from app.services.bounces import mailboxes, polling
from app.tasks.bounces import process_reports
from app.tasks.broker import broker

# The scheduler fires once a minute; each firing also queues the tick half a minute later.
HALF_MINUTE_MS = 30_000
# A mailbox queued for a poll is not queued again until that poll starts (or this long has passed, if the
# message was lost), so slow workers never find a pile of polls of one mailbox.
QUEUED_SECONDS = 600


def queued_key(mailbox_id: int) -> str:
    return f"ignite:bounces:mailbox:{mailbox_id}:queued"


async def poll_and_queue(mailbox: dict, redis: Redis) -> polling.PollResult:
    """Poll the mailbox and queue the processing of the reports it stored."""
    result = await polling.poll(mailbox, redis)
    if result.report_ids:
        process_reports.send(list(result.report_ids))
    return result


async def queue_due_polls(redis: Redis) -> list[int]:
    """Queue a poll of each due mailbox not queued already; the ids queued."""
    queued = []
    for row in await mailboxes.due_mailboxes():
        if await redis.set(queued_key(row["id"]), "1", nx=True, ex=QUEUED_SECONDS):
            poll_mailbox.send(row["workspace_id"], row["id"])
            queued.append(row["id"])
    return queued


async def poll_queued(redis: Redis, workspace_id: int, mailbox_id: int) -> polling.PollResult | None:
    """The queued poll: the mailbox may be queued again from now on; None when it was deleted meanwhile."""
    await redis.delete(queued_key(mailbox_id))
    try:
        mailbox = await mailboxes.get_mailbox(workspace_id, mailbox_id)
    except LookupError:
        return None
    return await poll_and_queue(mailbox, redis)


@dramatiq.actor(broker=broker, queue_name="bounces", max_retries=0, time_limit=60_000)
async def poll_due_mailboxes(then_half_minute_later: bool = True) -> None:
    await queue_due_polls(get_redis())
    if then_half_minute_later:
        poll_due_mailboxes.send_with_options(args=(False,), delay=HALF_MINUTE_MS)


@dramatiq.actor(broker=broker, queue_name="bounces", max_retries=0, time_limit=polling.LOCK_SECONDS * 1000)
async def poll_mailbox(workspace_id: int, mailbox_id: int) -> None:
    await poll_queued(get_redis(), workspace_id, mailbox_id)
