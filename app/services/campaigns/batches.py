"""One send batch of a campaign: claim a range with a lease, render, send, write every outcome back at once.

What keeps a message from being lost or sent twice:
- the claim takes only rows still waiting, and only while the campaign is
  sending, so overlapping or repeated batches and a pause are harmless;
- each acceptance goes to a Redis hash the moment the server answers, before
  the batch's outcomes reach PostgreSQL; a batch claimed again after its
  worker died marks those rows sent instead of sending them again, so a kill
  re-sends at most the messages that were on the wire;
- mailability (status, suppression lists, blacklist) is read again just
  before sending, so an unsubscribe during a send is honoured for every
  message not yet handed to a server;
- the campaign's status is read again just before sending: a batch claimed
  just before a pause or cancel puts its rows back instead of sending them;
- a row whose recipient is outside the sending window (a retry, a resumed
  campaign), or beyond the campaign's speed limit, goes back to wait without
  spending an attempt.

Messages are rendered one at a time as connections become free, so a worker
holds a few rendered messages per batch, not the whole batch.
"""

from __future__ import annotations

import asyncio
import json
import math
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from app.esp.base import OutgoingMessage, SendResult
from app.logs import get_logger
from app.piccolo_conf import DB
from app.redis_client import get_redis
from app.services import opt_outs, statements
from app.services.analytics import rollups
from app.services.automations import limits as marketing_limits
from app.services.bounces import actions, rates
from app.services.campaigns import counters, send_times, speed
from app.services.campaigns.content import compiled_campaign, merge_values, variant_content
from app.services.campaigns.drafts import get_campaign
from app.services.campaigns.ending import finish_if_done, note_progress
from app.services.campaigns.queue import SendQueue, enqueue_ranges, id_ranges
from app.services.campaigns.send_times import workspace_zone
from app.services.rendering import CompiledMessage, message_id
from app.services.sending import Adapters
from app.services.sending_batches import BatchItem, BatchOutcome, Verdict, provider_id, send_batch
from app.services.sqlparams import Params, fetch
from app.services.suppression import mailable_sql
from app.services.tenancy import checked_workspace_id
from app.settings import get_settings

log = get_logger("ignite.campaigns")
NOT_MAILABLE = "not sent: unsubscribed, suppressed or removed before its turn came"
# A deferred batch is queued again a little after its rows are due, so the claim finds them due.
DUE_SLACK_SECONDS = 0.5
ANSWER_CHARS = 1000
OUTSIDE_WINDOW = "waiting for the recipient's sending window"
SPEED_LIMITED = "waiting for the campaign's speed limit"
# A flow's send step has a campaign of its own, sent by this path too.
SENT_KINDS = ("campaign", "flow")


@dataclass
class Written:
    """The outcomes of one batch, written in one statement, then counted and (when deferred) queued again."""

    rows: list[tuple[int, str, int | None, str, int, str, str, float]] = field(default_factory=list)

    def add(self, delivery_id: int, status: str, *, server_id: int | None = None, group: str = "",
            attempted: int = 0, answer: str = "", provider: str = "", wait: float = 0.0) -> None:
        self.rows.append((delivery_id, status, server_id, group, attempted, answer[:ANSWER_CHARS], provider, wait))

    def add_outcome(self, outcome: BatchOutcome, attempts_before: int, retry_delays: Sequence[int]) -> None:
        key = outcome.item.key
        common = {"server_id": outcome.server_id, "group": outcome.group}
        if outcome.verdict is Verdict.SENT:
            self.add(key, "sent", attempted=1, answer=outcome.answer, provider=outcome.provider_id, **common)
        elif outcome.verdict is Verdict.CANCELLED:
            self.add(key, "cancelled", answer=NOT_MAILABLE, **common)
        elif outcome.verdict is Verdict.FAILED:
            self.add(key, "failed", attempted=1, answer=outcome.answer, **common)
        elif outcome.verdict is Verdict.RETRY and attempts_before < len(retry_delays):
            self.add(key, "deferred", attempted=1, answer=outcome.answer, wait=retry_delays[attempts_before], **common)
        elif outcome.verdict is Verdict.RETRY:
            # Out of retries: the last answer is what the marketer sees.
            self.add(key, "failed", attempted=1, answer=outcome.answer, **common)
        else:
            self.add(key, "deferred", answer=outcome.tried[-1] if outcome.tried else "", wait=outcome.wait, **common)

    async def store(self, redis: Redis, queue: SendQueue, workspace_id: int, campaign_id: int) -> None:
        if not self.rows:
            return
        columns = list(zip(*self.rows, strict=True))
        # The sent counters behind bounce and complaint rates, and the Analytics rollups, move with the rows
        # they count, or not at all.
        async with DB.transaction():
            stored = {row["id"]: row["status"] for row in
                      await statements.run("campaigns.record-outcomes", workspace_id, *columns)}
            await rates.count_sent(workspace_id, [key for key, status in stored.items() if status == "sent"])
            await rollups.count_outcomes(workspace_id, [key for key, status in stored.items()
                                                        if status in ("sent", "failed")])
        mine = [(delivery_id, stored[delivery_id], *rest) for delivery_id, _, *rest in self.rows
                if delivery_id in stored]
        tally: Counter[str] = Counter()
        for _, status, server_id, group, *_ in mine:
            if status in ("sent", "failed", "cancelled"):
                tally.update(counters.tallies(status, server_id, group))
            elif status == "deferred":
                tally["deferred"] += 1
        await counters.bump(redis, campaign_id, tally)
        sent = [str(row[0]) for row in mine if row[1] == "sent"]
        if sent:
            await redis.hdel(counters.key(campaign_id, "accepted"), *sent)
        later: dict[int, list[int]] = defaultdict(list)
        for delivery_id, status, *_, wait in mine:
            if status == "deferred":
                later[math.ceil(wait)].append(delivery_id)
        batch_size = get_settings().sending.batch_size
        for wait, ids in later.items():
            enqueue_ranges(queue, workspace_id, campaign_id, id_ranges(ids, batch_size), wait + DUE_SLACK_SECONDS)


async def record_refusals(workspace_id: int, outcomes: Sequence[BatchOutcome]) -> None:
    """Servers' permanent refusals act like bounce reports (a hard one suppresses the address). The batch is
    already written: a failure here is logged, and the refusal stays in the delivery's last answer."""
    refusals = [(outcome.item.key, outcome.refusal) for outcome in outcomes
                if outcome.verdict is Verdict.FAILED and outcome.refusal is not None]
    if not refusals:
        return
    try:
        await actions.record_answers(workspace_id, refusals)
    except Exception:
        log.exception("refusals_not_recorded", workspace_id=workspace_id, count=len(refusals))


async def accepted_earlier(redis: Redis, campaign_id: int, claimed: list[dict], written: Written) -> list[dict]:
    """Rows a dead worker sent (and Redis heard of) are written as sent; the rest still need sending."""
    answers = await redis.hmget(counters.key(campaign_id, "accepted"), [str(row["id"]) for row in claimed])
    fresh = []
    for row, answer in zip(claimed, answers, strict=True):
        if answer is None:
            fresh.append(row)
            continue
        server_id, provider, text = counters.read_accepted(answer)
        written.add(row["id"], "sent", server_id=server_id, attempted=1, answer=text, provider=provider)
    return fresh


async def _mailable(workspace_id: int, subscriber_ids: list[int]) -> dict[int, dict]:
    """The subscribers that may still be mailed now, by id, with what their message merges."""
    if not subscriber_ids:
        return {}
    params = Params()
    workspace = params.add(checked_workspace_id(workspace_id))
    rows = await fetch(
        "SELECT s.id, s.list_id, s.email, s.fields, s.created_at, s.timezone FROM subscribers s "
        f"WHERE s.id = ANY({params.add(subscriber_ids)}::bigint[]) AND s.workspace_id = {workspace} "
        f"AND {mailable_sql(params, workspace_id)}", params)
    for row in rows:
        if isinstance(row["fields"], str):
            row["fields"] = json.loads(row["fields"])
    return {row["id"]: row for row in rows}


def _message(compiled: CompiledMessage, campaign: Mapping[str, Any], row: Mapping[str, Any],
             subscriber: Mapping[str, Any]) -> OutgoingMessage:
    values = {**merge_values(subscriber), "email": row["email"]}
    return OutgoingMessage(
        workspace_id=campaign["workspace_id"], mail_from=campaign["from_email"], recipients=(row["email"],),
        raw=compiled.render(values, row["id"]), subject=campaign["snapshot_subject"],
        message_id=_message_id(campaign, row), job=f"campaign-{campaign['id']}", wire_ready=True,
    )


def _message_id(campaign: Mapping[str, Any], row: Mapping[str, Any]) -> str:
    return message_id(row["id"], campaign["from_email"].rpartition("@")[2].lower())


async def _items(campaign: Mapping[str, Any], rows: list[dict], subscribers: Mapping[int, dict]) -> list[BatchItem]:
    """One item per row, each rendered only when its connection is ready (see `BatchItem`)."""
    if not rows:
        return []
    # The campaign's own lists give the postal address; a segments-only campaign uses its recipients' lists.
    lists = sorted(campaign["list_ids"] or {s["list_id"] for s in subscribers.values()})
    # Each A/B variant in the batch sends its own snapshot and from name (variant 0: the campaign's).
    sent_as: dict[int, tuple[CompiledMessage, Mapping[str, Any]]] = {}
    for variant in {row["variant"] for row in rows}:
        content = await variant_content(campaign, variant)
        sent_as[variant] = (await compiled_campaign(content, lists), content)
    return [BatchItem(row["id"], row["email"], _message_id(campaign, row),
                      partial(_message, *sent_as[row["variant"]], row, subscribers[row["subscriber_id"]]),
                      subscribers[row["subscriber_id"]]["list_id"]) for row in rows]


class AcceptanceLog:
    """Acceptances written to Redis as the servers answer, several at a time (a group commit).

    A lane waits for the write that holds its acceptance before it sends its next message, so a kill
    re-sends only what was on the wire or in the write under way. Should Redis refuse the write, the
    batch goes on: its outcomes still reach PostgreSQL at the end, only the insurance against a kill is lost.
    """

    def __init__(self, redis: Redis, campaign_id: int) -> None:
        self.redis, self.key = redis, counters.key(campaign_id, "accepted")
        self._pending: dict[str, str] = {}
        self._writing: asyncio.Future | None = None

    async def record(self, item: BatchItem, server_id: int | None, result: SendResult) -> None:
        key = str(item.key)
        self._pending[key] = counters.accepted_entry(server_id, provider_id(item.message_id, result), result.response)
        while key in self._pending:
            if self._writing is None or self._writing.done():
                self._writing = asyncio.ensure_future(self._write())
            await asyncio.shield(self._writing)

    async def _write(self) -> None:
        entries, self._pending = self._pending, {}
        try:
            await self.redis.hset(self.key, mapping=entries)
        except RedisError:
            log.warning("acceptances_not_recorded", count=len(entries), exc_info=True)


_ACCEPTANCE_LOGS: dict[tuple[asyncio.AbstractEventLoop, int], AcceptanceLog] = {}
_ACCEPTANCE_LOGS_KEPT = 64


def acceptance_log(redis: Redis, campaign_id: int) -> AcceptanceLog:
    """The campaign's acceptance log in this event loop: batches sent side by side share its writes."""
    key = (asyncio.get_running_loop(), campaign_id)
    found = _ACCEPTANCE_LOGS.get(key)
    if found is None or found.redis is not redis:
        found = _ACCEPTANCE_LOGS[key] = AcceptanceLog(redis, campaign_id)
        while len(_ACCEPTANCE_LOGS) > _ACCEPTANCE_LOGS_KEPT:
            del _ACCEPTANCE_LOGS[next(iter(_ACCEPTANCE_LOGS))]
    return found


async def _on_time(redis: Redis, campaign: Mapping[str, Any], rows: list[dict], subscribers: Mapping[int, dict],
                   written: Written, moment: datetime | None) -> list[dict]:
    """The rows that may go now; the others go back to wait for their recipient's sending window or for the
    campaign's speed limit, without spending an attempt (the minute sweep queues them when they are due)."""
    window = send_times.Window.of(campaign)
    waits: dict[int, float] = {}
    if window is not None and rows:
        waits = send_times.window_waits(window, rows, subscribers, await workspace_zone(campaign["workspace_id"]),
                                        moment or datetime.now(UTC))
    for delivery_id, wait in waits.items():
        written.add(delivery_id, "queued", wait=wait, answer=OUTSIDE_WINDOW)
    ready = [row for row in rows if row["id"] not in waits]
    allowed = await speed.allowance(redis, campaign, [row["id"] for row in ready],
                                    moment.timestamp() if moment else None)
    for delivery_id, wait in allowed.later.items():
        written.add(delivery_id, "queued", wait=wait, answer=SPEED_LIMITED)
    return [row for row in ready if row["id"] not in allowed.later]


async def send_campaign_batch(redis: Redis, queue: SendQueue, adapters: Adapters, workspace_id: int,
                              campaign_id: int, first_id: int, last_id: int, now: datetime | None = None) -> int:
    """Claim the waiting deliveries of the range and send them; returns how many were claimed.

    `now` stands in for the clock of the sending window and the speed limit (tests move time with it).
    """
    sending = get_settings().sending
    # Listening before the rows are read: an opt-out is either in them or heard while sending (opt_outs).
    opted = await opt_outs.watch(get_redis)
    read_at = opted.since()
    claimed = await statements.run("campaigns.claim-batch", workspace_id, campaign_id, first_id, last_id,
                                   sending.lease_seconds)
    if not claimed:
        return 0
    await note_progress(redis, campaign_id)
    await redis.expire(counters.key(campaign_id, "accepted"), counters.KEEP_SECONDS)
    written = Written()
    fresh = await accepted_earlier(redis, campaign_id, claimed, written)
    subscribers = await _mailable(workspace_id, [row["subscriber_id"] for row in fresh if row["subscriber_id"]])
    for row in fresh:
        if row["subscriber_id"] not in subscribers:
            written.add(row["id"], "cancelled", answer=NOT_MAILABLE)
    to_send = [row for row in fresh if row["subscriber_id"] in subscribers]
    campaign = await get_campaign(workspace_id, campaign_id, kinds=SENT_KINDS)
    if campaign["status"] == "sending":
        to_send = await _on_time(redis, campaign, to_send, subscribers, written, now)
    if campaign["kind"] == "campaign":
        # A flow's emails met the daily cap when they were written (automations.sending); a campaign's meet it here.
        capped = await marketing_limits.capped_deliveries(workspace_id, to_send, subscribers, now)
        for delivery_id in capped:
            written.add(delivery_id, "cancelled", answer=marketing_limits.FREQUENCY_CAPPED)
        to_send = [row for row in to_send if row["id"] not in capped]
    items = await _items(campaign, to_send, subscribers)
    if campaign["status"] != "sending":
        back = "cancelled" if campaign["status"] == "cancelled" else "queued"
        for item in items:
            written.add(item.key, back, answer="campaign cancelled" if back == "cancelled" else "")
        items = []
    attempts = {row["id"]: row["attempts"] for row in claimed}
    outcomes = await send_batch(redis, workspace_id, items, adapters, tag=campaign["routing_tag"],
                                on_accepted=acceptance_log(redis, campaign_id).record,
                                defer_seconds=sending.throttled_defer_seconds,
                                skip=lambda item: opted.opted_out(workspace_id, item.list_id, item.recipient, read_at),
                                ) if items else []
    for outcome in outcomes:
        written.add_outcome(outcome, attempts[outcome.item.key], sending.retry_delays)
    await written.store(redis, queue, workspace_id, campaign_id)
    await record_refusals(workspace_id, outcomes)
    await counters.flush_if_due(redis, workspace_id, campaign_id)
    await finish_if_done(redis, workspace_id, campaign_id)
    return len(claimed)
