"""Sending transactional messages: claimed with a lease and sent through the campaigns' send path.

A range of a stream's deliveries is claimed as a campaign batch is, sent by `send_batch` (routing with the tag
`transactional`, quotas, token buckets, failover), each acceptance recorded in Redis before PostgreSQL, and the
outcomes written by the campaign's `Written` (the same statement, counters, sent counts and retries). What
differs: mailability is read again by address (a message need not go to a subscriber), every message has its
own content (compiled once per content and process), and sandbox messages never reach a server: their outcome
is chosen by their address and recorded as a real one would be.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import partial

from redis.asyncio import Redis

from app.services import kill_switch, statements
from app.services.bounces import actions
from app.services.bounces.model import COMPLAINT, HARD, Outcome
from app.services.campaigns import counters
from app.services.campaigns.batches import NOT_MAILABLE, Written, acceptance_log, accepted_earlier, record_refusals
from app.services.sending import Adapters
from app.services.sending_batches import BatchItem, BatchOutcome, send_batch
from app.services.transactional.accept import MessageQueue, refused_addresses, simulated
from app.services.transactional.building import Compiled, compiled_contents
from app.services.transactional.events import REPORTED, StatusChange, published_statuses
from app.settings import get_settings

ROUTING_TAG = "transactional"
# A sandbox `defer@` message is put off this long once, then sent.
SANDBOX_DEFER_SECONDS = 2.0
SANDBOX_ANSWER = "250 2.0.0 sandbox: accepted, not sent"
SANDBOX_DEFERRAL = "421 4.7.0 sandbox: simulated deferral"
# Messages waiting this long past their time are taken for lost from the queue, and queued again.
LOST_AFTER_SECONDS = 60.0


def _sandbox_outcomes(rows: Sequence[dict], written: Written) -> list[tuple[int, Outcome]]:
    """Each sandbox message written as its address asks; the bounce reports they call for."""
    reports = []
    for row in rows:
        local = row["email"].rpartition("@")[0] if simulated(row["email"]) else ""
        if local == "defer" and row["attempts"] == 0:
            written.add(row["id"], "deferred", attempted=1, answer=SANDBOX_DEFERRAL, wait=SANDBOX_DEFER_SECONDS)
            continue
        written.add(row["id"], "sent", attempted=1, answer=SANDBOX_ANSWER)
        if local == "bounce":
            reports.append((row["id"], Outcome(row["email"], HARD, status="5.1.1", reply_code="550",
                                               diagnostic="550 5.1.1 sandbox: simulated unknown user",
                                               rule="sandbox")))
        elif local == "complaint":
            reports.append((row["id"], Outcome(row["email"], COMPLAINT, feedback_type="abuse", rule="sandbox")))
        else:
            reports.append((row["id"], Outcome(row["email"], "delivered", status="2.0.0", rule="sandbox")))
    return reports


def _items(workspace_id: int, rows: Sequence[dict], contents: dict[int, Compiled]) -> list[BatchItem]:
    items = []
    for row in rows:
        content = contents[row["content_id"]]
        items.append(BatchItem(row["id"], row["email"], content.message_id(row["id"]),
                               partial(content.build, workspace_id, row["id"], row["email"], json.loads(row["data"]))))
    return items


async def _held(queue: MessageQueue, workspace_id: int, stream: int, first_id: int, last_id: int) -> bool:
    """Whether the operator's or the workspace's stop is on: the range then looks again in a minute."""
    if await kill_switch.platform_stop() is None and await kill_switch.workspace_stop(workspace_id) is None:
        return False
    queue.send_batch(workspace_id, stream, first_id, last_id, kill_switch.HELD_RETRY_SECONDS)
    return True


async def send_messages(redis: Redis, queue: MessageQueue, adapters: Adapters, workspace_id: int, stream: int,
                        first_id: int, last_id: int) -> int:
    """Claim the waiting messages of the range and send them; returns how many were claimed."""
    if await _held(queue, workspace_id, stream, first_id, last_id):
        return 0
    sending = get_settings().sending
    claimed = await statements.run("transactional.claim", workspace_id, stream, first_id, last_id,
                                   sending.lease_seconds)
    if not claimed:
        return 0
    await redis.expire(counters.key(stream, "accepted"), counters.KEEP_SECONDS)
    written = Written()
    fresh = await accepted_earlier(redis, stream, claimed, written)
    refused = await refused_addresses(workspace_id, [row["email"] for row in fresh
                                                     if not (row["sandbox"] and simulated(row["email"]))])
    for row in fresh:
        if row["email"] in refused:
            written.add(row["id"], "cancelled", answer=f"{NOT_MAILABLE}: {refused[row['email']]}")
    going = [row for row in fresh if row["email"] not in refused]
    reports = _sandbox_outcomes([row for row in going if row["sandbox"]], written)
    real = [row for row in going if not row["sandbox"]]
    outcomes: list[BatchOutcome] = []
    if real:
        contents = await compiled_contents(workspace_id, stream, {row["content_id"] for row in real})
        outcomes = await send_batch(redis, workspace_id, _items(workspace_id, real, contents), adapters,
                                    tag=ROUTING_TAG, on_accepted=acceptance_log(redis, stream).record,
                                    defer_seconds=sending.throttled_defer_seconds)
    attempts = {row["id"]: row["attempts"] for row in claimed}
    for outcome in outcomes:
        written.add_outcome(outcome, attempts[outcome.item.key], sending.retry_delays)
    await written.store(redis, queue, workspace_id, stream)
    await _note_deferrals(workspace_id, written)
    await record_refusals(workspace_id, outcomes)
    if reports:
        await actions.record_answers(workspace_id, reports)
    await counters.flush_if_due(redis, workspace_id, stream)
    messages = {row["id"]: row for row in claimed}
    await published_statuses(workspace_id, [
        *(StatusChange(messages[row[0]], row[1], row[5]) for row in written.rows if row[1] != "queued"),
        *(StatusChange(messages[delivery_id], REPORTED[outcome.category], outcome.diagnostic)
          for delivery_id, outcome in reports)])
    return len(claimed)


async def _note_deferrals(workspace_id: int, written: Written) -> None:
    deferred = [(row[0], row[5]) for row in written.rows if row[1] == "deferred"]
    if deferred:
        await statements.run("transactional.note-deferrals", workspace_id, [row[0] for row in deferred],
                             [row[1] for row in deferred])


async def queue_due(queue: MessageQueue) -> int:
    """The minute sweep: scheduled messages whose time came, and messages lost from the queue; returns the
    ranges queued."""
    rows = await statements.run("transactional.due", LOST_AFTER_SECONDS, get_settings().sending.batch_size)
    for row in rows:
        queue.send_batch(row["workspace_id"], row["campaign_id"], row["first_id"], row["last_id"])
    return len(rows)
