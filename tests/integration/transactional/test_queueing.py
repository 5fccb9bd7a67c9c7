"""Accepted messages reach the transactional queue together: one queue entry per short window, not per message."""

from __future__ import annotations

import json

import pytest

from app.db.campaigns import Delivery
from app.redis_client import get_broker_redis
from tests.factories import make_workspace
from tests.integration.campaigns.helpers import wait_for
from tests.integration.transactional.helpers import raw_message, sender


async def _queued_ranges(workspace_id: int) -> list[tuple[int, int]]:
    """The (first, last) ranges of this workspace's `send_messages` entries on the broker's transactional queue."""
    messages = await get_broker_redis().hgetall("dramatiq:transactional.msgs")
    entries = [json.loads(value) for value in messages.values()]
    return sorted((entry["args"][2], entry["args"][3]) for entry in entries
                  if entry["actor_name"] == "send_messages" and entry["args"][0] == workspace_id)


async def test_an_accepted_message_reaches_the_broker(client) -> None:
    caller = await sender()
    answer = await client.post("/api/v1/messages", headers=caller.headers, json=raw_message("ann@example.com"))
    assert answer.status_code == 202

    async def queued() -> list[tuple[int, int]]:
        return await _queued_ranges(caller.workspace["id"])

    assert await wait_for(queued, 10, every=0.01, what="the message's queue entry") == [(answer.json()["id"],) * 2]


async def test_messages_given_in_one_window_share_one_queue_entry() -> None:
    from app.tasks.transactional import QUEUE

    workspace = await make_workspace()
    # Given without a pause between them, so within one window whatever the machine's speed.
    for message_id in (1_000_007, 1_000_003, 1_000_005):
        QUEUE.send_batch(workspace["id"], 77, message_id, message_id)
    QUEUE.send_batch(workspace["id"], 77, 2_000_000, 2_000_400)

    async def queued() -> list[tuple[int, int]]:
        found = await _queued_ranges(workspace["id"])
        return found if len(found) >= 2 else []

    assert await wait_for(queued, 10, every=0.01, what="the queue entries") == [
        (1_000_003, 1_000_007), (2_000_000, 2_000_400)]


async def test_a_broker_that_fails_leaves_the_message_accepted_and_stored(client, monkeypatch) -> None:
    from app.tasks import transactional as tasks

    sent: list[tuple] = []

    def unreachable(*args: object) -> None:
        sent.append(args)
        raise ConnectionError("injected: the broker is unreachable")

    monkeypatch.setattr(tasks, "_send", unreachable)
    caller = await sender()
    answer = await client.post("/api/v1/messages", headers=caller.headers, json=raw_message("ann@example.com"))
    assert answer.status_code == 202

    async def tried() -> bool:
        return bool(sent)

    await wait_for(tried, 10, every=0.01, what="the queue to be tried")
    [delivery] = await Delivery.select(Delivery.status).where(Delivery.id == answer.json()["id"])
    assert delivery["status"] == "queued"
    assert await _queued_ranges(caller.workspace["id"]) == []


@pytest.mark.parametrize("ranges, merged", [
    ([(5, 5), (3, 3), (9, 9)], [(3, 5), (9, 9)]),
    ([(1, 1), (10, 40), (2, 2)], [(1, 2), (10, 40)]),
])
def test_single_messages_are_merged_into_ranges_of_a_batch_at_most(ranges, merged) -> None:
    from app.tasks.transactional import coalesced

    assert coalesced(ranges, size=2) == merged
