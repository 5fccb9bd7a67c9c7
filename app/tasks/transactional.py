"""Transactional messages: sent on their own queue, which campaign traffic never delays.

`ignite worker` gives the `transactional` queue a process of its own that consumes nothing else (app/cli.py),
so a message accepted while a large campaign fills the `send` queue waits for no campaign batch.
"""

from __future__ import annotations

import dramatiq

from app.redis_client import get_redis
from app.services import transactional
from app.services.sending import Adapters
from app.settings import get_settings
from app.tasks.broker import broker

QUEUE_NAME = "transactional"
ADAPTERS = Adapters()
# A batch must end before its lease does, or the sweep would hand its messages to another worker mid-send.
BATCH_TIME_LIMIT_MS = max(get_settings().sending.lease_seconds - 30, 10) * 1000


class DramatiqMessageQueue:
    """The transactional service's `MessageQueue`, on this broker."""

    def send_batch(self, workspace_id: int, campaign_id: int, first_id: int, last_id: int,
                   delay_seconds: float = 0.0) -> None:
        delay = int(delay_seconds * 1000)
        send_messages.send_with_options(args=(workspace_id, campaign_id, first_id, last_id), delay=delay or None)


QUEUE = DramatiqMessageQueue()


# No retries: a failed range keeps its lease until it runs out; the minute sweep then queues it again.
@dramatiq.actor(broker=broker, queue_name=QUEUE_NAME, max_retries=0, time_limit=BATCH_TIME_LIMIT_MS)
async def send_messages(workspace_id: int, campaign_id: int, first_id: int, last_id: int) -> None:
    await transactional.send_messages(get_redis(), QUEUE, ADAPTERS, workspace_id, campaign_id, first_id, last_id)


@dramatiq.actor(broker=broker, queue_name=QUEUE_NAME, max_retries=0, time_limit=60_000)
async def send_due_messages() -> None:
    """Scheduled messages whose time has come, and messages lost from the queue, queued to send."""
    await transactional.queue_due(QUEUE)
