"""Transactional messages: sent on their own queue, which campaign traffic never delays.

`ignite worker` gives the `transactional` queue a process of its own that consumes nothing else (app/cli.py),
so a message accepted while a large campaign fills the `send` queue waits for no campaign batch.
"""

from __future__ import annotations

import asyncio

import dramatiq

from app.logs import get_logger
from app.redis_client import get_redis
from app.services import transactional
from app.services.campaigns.queue import id_ranges
from app.services.sending import Adapters
from app.settings import get_settings
from app.tasks.broker import broker

log = get_logger("ignite.tasks.transactional")
QUEUE_NAME = "transactional"
# Ranges to send at once given within this long are queued together (see DramatiqMessageQueue).
COALESCE_SECONDS = 0.025
ADAPTERS = Adapters()
# A batch must end before its lease does, or the sweep would hand its messages to another worker mid-send.
BATCH_TIME_LIMIT_MS = max(get_settings().sending.lease_seconds - 30, 10) * 1000


class DramatiqMessageQueue:
    """The transactional service's `MessageQueue`, on this broker.

    Ranges to send at once are not queued one by one: those given within `COALESCE_SECONDS` in one event loop
    are queued together, single messages merged into ranges of up to a batch, by one call off the event loop.
    A busy API process then pays one queue entry per window instead of one per message, and no request waits
    for the broker. The messages are stored before their range is given here, so a range lost with the process
    is found by the minute sweep (`send_due_messages`).
    """

    def __init__(self) -> None:
        # Per event loop: the ranges of its open window, by (workspace, stream).
        self.windows: dict[asyncio.AbstractEventLoop, dict[tuple[int, int], list[tuple[int, int]]]] = {}

    def send_batch(self, workspace_id: int, campaign_id: int, first_id: int, last_id: int,
                   delay_seconds: float = 0.0) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        if delay_seconds > 0 or loop is None:
            _send(workspace_id, campaign_id, first_id, last_id, delay_seconds)
            return
        window = self.windows.get(loop)
        if window is None:
            window = self.windows[loop] = {}
            loop.call_later(COALESCE_SECONDS, self._flush, loop)
        window.setdefault((workspace_id, campaign_id), []).append((first_id, last_id))

    def _flush(self, loop: asyncio.AbstractEventLoop) -> None:
        window = self.windows.pop(loop, {})
        try:
            loop.run_in_executor(None, _send_all, window, get_settings().sending.batch_size)
        except RuntimeError:  # the loop's executor is shutting down: queue them from here
            _send_all(window, get_settings().sending.batch_size)


def _send(workspace_id: int, campaign_id: int, first_id: int, last_id: int, delay_seconds: float = 0.0) -> None:
    delay = int(delay_seconds * 1000)
    send_messages.send_with_options(args=(workspace_id, campaign_id, first_id, last_id), delay=delay or None)


def coalesced(ranges: list[tuple[int, int]], size: int) -> list[tuple[int, int]]:
    """Ranges of single messages merged into ranges of up to `size` of them; other ranges as they are."""
    singles = [first for first, last in ranges if first == last]
    return [*id_ranges(singles, size), *((first, last) for first, last in ranges if first != last)]


def _send_all(pending: dict[tuple[int, int], list[tuple[int, int]]], size: int) -> None:
    for (workspace_id, campaign_id), ranges in pending.items():
        for first, last in coalesced(ranges, size):
            try:
                _send(workspace_id, campaign_id, first, last)
            except Exception:  # the broker is unreachable: the minute sweep queues the range again
                log.warning("transactional_enqueue_failed", workspace_id=workspace_id, first_id=first,
                            last_id=last, exc_info=True)


QUEUE = DramatiqMessageQueue()


# No retries: a failed range keeps its lease until it runs out; the minute sweep then queues it again.
@dramatiq.actor(broker=broker, queue_name=QUEUE_NAME, max_retries=0, time_limit=BATCH_TIME_LIMIT_MS)
async def send_messages(workspace_id: int, campaign_id: int, first_id: int, last_id: int) -> None:
    await transactional.send_messages(get_redis(), QUEUE, ADAPTERS, workspace_id, campaign_id, first_id, last_id)


@dramatiq.actor(broker=broker, queue_name=QUEUE_NAME, max_retries=0, time_limit=60_000)
async def send_due_messages() -> None:
    """Scheduled messages whose time has come, and messages lost from the queue, queued to send."""
    await transactional.queue_due(QUEUE)
