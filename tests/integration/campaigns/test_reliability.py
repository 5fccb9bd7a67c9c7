"""Campaigns through real worker processes into an SMTP server that records every message by Message-ID.

Nothing here sleeps to let things happen: every wait is on a condition with a deadline. The reaper,
which the scheduler runs every minute, is run by the test while it waits, as often as it polls.

Sizes: 20,000 recipients for the plain run (about 30 s here on 2 cores, the recording server
sharing the test process); 5,000 for the kill and the pause runs, which add a lease to wait out.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator

import pytest

from app.db.campaigns import Delivery
from app.services import campaigns
from tests.factories import make_list, make_subscribers, make_workspace
from tests.integration.campaigns.helpers import PERSON, ready_campaign, smtp_server, wait_for
from tests.integration.campaigns.recorder import RecordingServer
from tests.integration.campaigns.workers import THREADS

RECIPIENTS = 20_000
SMALLER = 5_000
POOL = 8
# A killed worker can re-send only messages on the wire or just accepted and not yet noted in Redis:
# at most one lane per connection of each batch it was running.
IN_FLIGHT_BOUND = THREADS * POOL


@pytest.fixture
def recorder() -> Iterator[RecordingServer]:
    with RecordingServer() as server:
        yield server


def _queue():
    from app.tasks.sending import QUEUE

    return QUEUE


async def _campaign(port: int, recipients: int) -> tuple[dict, dict]:
    """A campaign to two lists that overlap: `recipients` people, a third of them on both lists."""
    workspace = await make_workspace()
    first, second = await make_list(workspace), await make_list(workspace)
    shared = recipients // 3
    await make_subscribers(first, recipients - shared)
    await make_subscribers(second, shared)  # sub1..sub<shared> are on both lists
    await make_subscribers(second, shared, prefix="second")
    await smtp_server(workspace["id"], port, pool_size=POOL)
    campaign = await ready_campaign(workspace["id"], [first["id"], second["id"]])
    assert await campaigns.recipient_count(workspace["id"], campaigns.Audience.of(campaign)) == recipients
    return workspace, campaign


async def _row(workspace: dict, campaign: dict) -> dict:
    return await campaigns.get_campaign(workspace["id"], campaign["id"])


async def _expected_ids(campaign: dict) -> set[str]:
    rows = await Delivery.select(Delivery.id).where(Delivery.campaign_id == campaign["id"])
    return {f"<{row['id']}@news.example.com>" for row in rows}


def _reaping_until_sent(redis, workspace: dict, campaign: dict):
    async def sent() -> bool:
        await campaigns.reap(redis, _queue(), requeue_after=3)
        return (await _row(workspace, campaign))["status"] == "sent"

    return sent


def _duplicates(recorder: RecordingServer) -> int:
    return sum(count - 1 for count in recorder.handler.counts().values())


async def test_every_recipient_gets_exactly_one_message_through_two_workers(redis, recorder, start_worker):
    workspace, campaign = await _campaign(recorder.port, RECIPIENTS)
    start_worker(), start_worker()
    await campaigns.launch(redis, _queue(), workspace["id"], campaign["id"], PERSON)

    await wait_for(_reaping_until_sent(redis, workspace, campaign), 120, every=0.5, what="the campaign to be sent")
    received = recorder.handler.counts()
    assert set(received) == await _expected_ids(campaign)
    assert len(received) == RECIPIENTS and max(received.values()) == 1
    assert len(set(recorder.handler.recipients)) == RECIPIENTS
    row = await _row(workspace, campaign)
    assert (row["recipient_count"], row["sent_count"], row["failed_count"]) == (RECIPIENTS, RECIPIENTS, 0)


async def test_a_worker_killed_mid_campaign_loses_nothing_and_resends_only_what_was_in_flight(
        redis, recorder, start_worker):
    workspace, campaign = await _campaign(recorder.port, SMALLER)
    victim = start_worker()
    start_worker()
    await campaigns.launch(redis, _queue(), workspace["id"], campaign["id"], PERSON)

    async def under_way() -> bool:
        return recorder.handler.received >= SMALLER // 4

    await wait_for(under_way, 60, every=0.05, what="a quarter of the messages")
    victim.kill()
    start_worker()
    await wait_for(_reaping_until_sent(redis, workspace, campaign), 90, every=0.5, what="the campaign to be sent")

    received = recorder.handler.counts()
    assert set(received) == await _expected_ids(campaign), "a recipient was lost"
    duplicates = _duplicates(recorder)
    print(f"\nduplicates after SIGKILL: {duplicates}")
    assert duplicates <= IN_FLIGHT_BOUND
    ids_by_recipient: dict[str, set[str]] = defaultdict(set)
    for recipient, message_id in zip(recorder.handler.recipients, recorder.handler.ids, strict=True):
        ids_by_recipient[recipient].add(message_id)
    assert len(ids_by_recipient) == SMALLER
    assert all(len(ids) == 1 for ids in ids_by_recipient.values()), "a copy carried another Message-ID"
    assert (await _row(workspace, campaign))["sent_count"] == SMALLER


async def test_pause_resume_and_a_stopped_worker_send_everyone_exactly_once(redis, recorder, start_worker):
    workspace, campaign = await _campaign(recorder.port, SMALLER)
    stopping = start_worker()
    start_worker()
    await campaigns.launch(redis, _queue(), workspace["id"], campaign["id"], PERSON)

    async def under_way() -> bool:
        return recorder.handler.received >= SMALLER // 5

    await wait_for(under_way, 60, every=0.05, what="a fifth of the messages")
    await campaigns.pause(redis, workspace["id"], campaign["id"], PERSON)

    async def settled() -> bool:
        claimed = await Delivery.count().where(Delivery.campaign_id == campaign["id"], Delivery.status == "claimed")
        sent = await Delivery.count().where(Delivery.campaign_id == campaign["id"], Delivery.status == "sent")
        return claimed == 0 and sent == recorder.handler.received

    await wait_for(settled, 20, what="batches in flight to finish after the pause")
    paused_at = recorder.handler.received
    assert paused_at < SMALLER
    # Batches still queued are consumed while paused and must claim nothing.
    await wait_for(lambda: _queue_empty(), 20, what="the queue to drain while paused")
    assert recorder.handler.received == paused_at
    assert (await _row(workspace, campaign))["status"] == "paused"

    await campaigns.resume(redis, _queue(), workspace["id"], campaign["id"], PERSON)

    async def half_way() -> bool:
        return recorder.handler.received >= (SMALLER + paused_at) // 2

    await wait_for(half_way, 60, every=0.05, what="sending to carry on")
    stopping.terminate()
    await wait_for(_reaping_until_sent(redis, workspace, campaign), 90, every=0.5, what="the campaign to be sent")
    assert stopping.wait() == 0

    received = recorder.handler.counts()
    assert set(received) == await _expected_ids(campaign)
    assert max(received.values()) == 1, f"{_duplicates(recorder)} messages were sent twice"


async def _queue_empty() -> bool:
    from app.tasks.broker import broker

    client = broker.client
    return not any(client.llen(f"dramatiq:{name}") or client.hlen(f"dramatiq:{name}.msgs")
                   for name in ("send", "send.DQ"))
