"""Campaign sending on the `send` queue: writing deliveries, send batches, and the minute jobs that keep them going.

Each worker process keeps one set of ESP adapters for its whole life, so a
server's pooled SMTP connections carry batch after batch.
"""

from __future__ import annotations

import asyncio

import dramatiq

from app.redis_client import get_redis
from app.services import campaigns, kill_switch
from app.services.automations import sending as automations_sending
from app.services.campaigns import winner
from app.services.sending import Adapters
from app.settings import get_settings
from app.tasks.broker import broker

ADAPTERS = Adapters()
# Taken before a batch claims its rows, so waiting costs no lease time (see SendingSettings.batches_per_process).
SENDING = asyncio.Semaphore(get_settings().sending.batches_per_process)
# A batch must end before its lease does, or the reaper would hand its rows to another worker mid-send.
BATCH_TIME_LIMIT_MS = max(get_settings().sending.lease_seconds - 30, 10) * 1000
MATERIALISE_TIME_LIMIT_MS = 6 * 3600 * 1000


class DramatiqQueue:
    """The campaign service's `SendQueue`, on this broker."""

    def send_batch(self, workspace_id: int, campaign_id: int, first_id: int, last_id: int,
                   delay_seconds: float = 0.0) -> None:
        delay = int(delay_seconds * 1000)
        send_campaign_batch.send_with_options(args=(workspace_id, campaign_id, first_id, last_id),
                                              delay=delay or None)

    def materialise(self, workspace_id: int, campaign_id: int) -> None:
        materialise_campaign.send(workspace_id, campaign_id)


QUEUE = DramatiqQueue()
# Flow emails written by the automations engine are queued here too.
automations_sending.send_with(QUEUE)


# No retries: a failed batch keeps its lease until the reaper hands its rows out again.
@dramatiq.actor(broker=broker, queue_name="send", max_retries=0, time_limit=BATCH_TIME_LIMIT_MS)
async def send_campaign_batch(workspace_id: int, campaign_id: int, first_id: int, last_id: int) -> None:
    if await kill_switch.held_by_operator(get_redis(), campaign_id):
        # Nothing claimed: the batch looks again in a minute, and sends once the operator restarts sending.
        QUEUE.send_batch(workspace_id, campaign_id, first_id, last_id, kill_switch.HELD_RETRY_SECONDS)
        return
    async with SENDING:
        await campaigns.send_campaign_batch(get_redis(), QUEUE, ADAPTERS, workspace_id, campaign_id, first_id,
                                            last_id)


@dramatiq.actor(broker=broker, queue_name="send", max_retries=3, time_limit=MATERIALISE_TIME_LIMIT_MS)
async def materialise_campaign(workspace_id: int, campaign_id: int) -> None:
    await campaigns.materialise(get_redis(), QUEUE, workspace_id, campaign_id)


@dramatiq.actor(broker=broker, queue_name="default", max_retries=0, time_limit=300_000)
async def reap_deliveries() -> None:
    await campaigns.reap(get_redis(), QUEUE)


@dramatiq.actor(broker=broker, queue_name="default", max_retries=0, time_limit=300_000)
async def start_due_campaigns() -> None:
    await campaigns.start_due(get_redis(), QUEUE)


@dramatiq.actor(broker=broker, queue_name="default", max_retries=0, time_limit=300_000)
async def decide_ab_tests() -> None:
    await winner.decide_due(get_redis(), QUEUE)
