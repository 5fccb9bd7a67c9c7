"""What Ignite does about each outcome: store it, suppress the subscriber, count it against the server.

- hard: every subscription of the address in the workspace becomes `bounced`, and the address goes on
  the blacklist;
- soft: counted; the `soft_limit`-th soft bounce of an address within `soft_days` is treated as hard;
- complaint: every subscription becomes `complained`, and the address goes on the blacklist;
- block: counted against the server and domain group only (policy, spam, reputation: not the
  subscriber's fault), so it never suppresses anyone;
- autoreply, delivered: stored only; unknown: stored and kept for review in the bounce log.

`apply` joins the caller's transaction: the outcome's row, the status changes, the blacklist entry, the
timeline event and the rate counters commit together or not at all. An outcome already stored (the
same report position, or a delivery's synchronous answer) is skipped, so nothing is done twice.
`record_answers` is the send path's way in for synchronous 5xx answers.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from redis.asyncio import Redis

from app.piccolo_conf import DB
from app.redis_client import get_redis
from app.services import opt_outs, statements
from app.services.analytics import rollups
from app.services.bounces import rates, thresholds
from app.services.bounces.matching import DeliveryMatch
from app.services.bounces.model import (
    BLOCK,
    COMPLAINT,
    HARD,
    IGNORED,
    SOFT,
    UNKNOWN,
    FeedbackSettings,
    Outcome,
)
from app.services.suppression.entries import Entry, add_entries
from app.services.suppression.lists import blacklist_id
from app.services.throttling import pauses
from app.services.throttling.adaptive import AimdPolicy, Outcomes, record_outcomes
from app.services.webhooks import producers as webhook_events

# What was done, as stored in `bounces.action_taken` (the log says it in words).
SUPPRESSED, SOFT_LIMIT, COUNTED, COMPLAINED, STORED, REVIEW, UNMATCHED = (
    "suppressed", "soft-limit", "counted", "complained", "stored", "review", "unmatched")
# A bounce leaves people who already left alone; a complaint outranks everything but the blacklist.
BOUNCED_FROM = ["unconfirmed", "confirmed"]
COMPLAINED_FROM = ["unconfirmed", "confirmed", "unsubscribed", "bounced"]
EVENT_KIND = {HARD: "bounce", SOFT: "bounce", BLOCK: "bounce", UNKNOWN: "bounce", COMPLAINT: "complaint"}
MAX_DIAGNOSTIC_CHARS = 2000
# Counting outcomes only reads the policy's window (how long a minute's slot is kept), not its rates.
AIMD_POLICY = AimdPolicy(ceiling=1000.0)


@dataclass(frozen=True)
class Feedback:
    """One outcome to store and act on, with the delivery it was matched to (None when none was)."""

    outcome: Outcome
    match: DeliveryMatch | None
    report_id: int | None = None
    position: int = 0

    @property
    def email(self) -> str:
        return (self.match.email if self.match else self.outcome.recipient).strip().lower()[:320]


@dataclass(frozen=True)
class Applied:
    """What a transaction did: the rates it counted (for the pause evaluation after commit) and the
    subscriptions it took away (announced to the batches being sent after commit)."""

    counts: list[rates.FeedbackCount]
    opted_out: list[tuple[int | None, str]]


def action_for(category: str, matched: bool, soft_bounces: int, settings: FeedbackSettings) -> str:
    """The action an outcome calls for; `soft_bounces` counts this one with the address's recent ones."""
    if category in IGNORED:
        return STORED
    if category == UNKNOWN:
        return REVIEW
    if not matched:
        return UNMATCHED
    if category == HARD:
        return SUPPRESSED
    if category == COMPLAINT:
        return COMPLAINED
    if category == SOFT and soft_bounces >= settings.soft_limit:
        return SOFT_LIMIT
    return COUNTED


async def _soft_bounces(workspace_id: int, feedback: Feedback, settings: FeedbackSettings) -> int:
    if feedback.outcome.category != SOFT or feedback.match is None:
        return 0
    rows = await statements.run("bounces.recent-soft", workspace_id, feedback.email, settings.soft_days)
    return int(rows[0]["n"]) + 1


async def _stored(workspace_id: int, feedback: Feedback, action: str) -> int | None:
    """The new bounce's id; None when the outcome was stored already."""
    outcome, match = feedback.outcome, feedback.match
    rows = await statements.run(
        "bounces.store", workspace_id, feedback.report_id, feedback.position,
        match.delivery_id if match else None, match.campaign_id if match else None,
        match.subscriber_id if match else None, match.server_id if match else None,
        match.domain_group if match else "", feedback.email, outcome.category, outcome.status[:16],
        outcome.reply_code[:8], outcome.diagnostic[:MAX_DIAGNOSTIC_CHARS], outcome.remote_mta[:255],
        outcome.rule[:128], outcome.feedback_type[:32], action)
    return rows[0]["id"] if rows else None


async def _suppressed(workspace_id: int, feedback: Feedback, to_status: str, from_statuses: list[str],
                      reason: str) -> list[tuple[int | None, str]]:
    """Mark every subscription of the address and blacklist it; the (list, address) rows taken away."""
    rows = await statements.run("bounces.mark-subscribers", workspace_id, feedback.email, from_statuses,
                                to_status, reason)
    await add_entries(workspace_id, await blacklist_id(workspace_id), [Entry("email", feedback.email)], reason)
    return [(row["list_id"], feedback.email) for row in rows]


def _reason(feedback: Feedback) -> str:
    outcome = feedback.outcome
    said = " ".join(part for part in (outcome.status, outcome.feedback_type) if part)
    return f"{outcome.category} {said}".strip() if said else outcome.category


async def _event(workspace_id: int, feedback: Feedback, action: str) -> None:
    match, outcome = feedback.match, feedback.outcome
    kind = EVENT_KIND.get(outcome.category)
    if match is None or kind is None:
        return
    meta = {"category": outcome.category, "status": outcome.status, "diagnostic": outcome.diagnostic[:300],
            "feedback_type": outcome.feedback_type, "action": action}
    if match.subscriber_id is not None:
        await statements.run("bounces.event", workspace_id, match.subscriber_id, match.campaign_id,
                             match.delivery_id, kind, json.dumps(meta))
    # A transactional message to an address that is nobody's subscription is heard by webhooks all the same.
    await webhook_events.feedback(workspace_id, "message.complained" if kind == "complaint" else "message.bounced",
                                  match.delivery_id, meta)


async def _acted(workspace_id: int, feedback: Feedback, action: str) -> list[tuple[int | None, str]]:
    """Carry out the action; the subscriptions it took away."""
    await _event(workspace_id, feedback, action)
    if action in (SUPPRESSED, SOFT_LIMIT):
        return await _suppressed(workspace_id, feedback, "bounced", BOUNCED_FROM, _reason(feedback))
    if action == COMPLAINED:
        return await _suppressed(workspace_id, feedback, "complained", COMPLAINED_FROM, _reason(feedback))
    return []


def _count(feedback: Feedback) -> rates.FeedbackCount | None:
    match = feedback.match
    if match is None or feedback.outcome.category not in rates.COUNTED:
        return None
    return rates.FeedbackCount(match.server_id, match.domain_group, match.campaign_id, feedback.outcome.category)


async def apply(workspace_id: int, items: Sequence[Feedback], settings: FeedbackSettings) -> Applied:
    """Store and act on each outcome not stored yet; joins the caller's transaction."""
    counts: list[rates.FeedbackCount] = []
    opted_out: list[tuple[int | None, str]] = []
    stored: list[int] = []
    for feedback in items:
        soft = await _soft_bounces(workspace_id, feedback, settings)
        action = action_for(feedback.outcome.category, feedback.match is not None, soft, settings)
        if (bounce_id := await _stored(workspace_id, feedback, action)) is None:
            continue
        stored.append(bounce_id)
        opted_out += await _acted(workspace_id, feedback, action)
        if (count := _count(feedback)) is not None:
            counts.append(count)
    await rates.count_feedback(workspace_id, counts)
    await rollups.count_bounces(workspace_id, stored)
    return Applied(counts, opted_out)


async def reclassified(workspace_id: int, bounce_id: int, feedback: Feedback, settings: FeedbackSettings) -> Applied:
    """Act on a stored outcome given its category by a person (it was unknown); joins the caller's transaction."""
    soft = await _soft_bounces(workspace_id, feedback, settings)
    action = action_for(feedback.outcome.category, feedback.match is not None, soft, settings)
    await statements.run("bounces.reclassify", workspace_id, bounce_id, feedback.outcome.category,
                         feedback.outcome.rule[:128], action)
    opted_out = await _acted(workspace_id, feedback, action)
    counts = [count] if (count := _count(feedback)) is not None else []
    await rates.count_feedback(workspace_id, counts)
    await rollups.count_bounces(workspace_id, [bounce_id])
    return Applied(counts, opted_out)


async def after_commit(redis: Redis, workspace_id: int, applied: Applied) -> None:
    """What may only follow the commit: batches being sent skip the suppressed, and the rates are judged."""
    await opt_outs.announce(redis, workspace_id, applied.opted_out)
    if applied.counts:
        await pauses.evaluate(workspace_id, applied.counts)


async def feed_blocks(redis: Redis, applied: Applied) -> None:
    """Blocks reported after the fact slow the (server, domain group) down like the send path's own 5xx."""
    for count in applied.counts:
        if count.category == BLOCK and count.server_id is not None:
            await record_outcomes(redis, count.server_id, count.domain_group, Outcomes(bounced=count.n),
                                  AIMD_POLICY)


async def _matches(workspace_id: int, delivery_ids: list[int]) -> dict[int, DeliveryMatch]:
    rows = await statements.run("bounces.deliveries", workspace_id, delivery_ids)
    return {row["id"]: DeliveryMatch(row["id"], row["workspace_id"], row["campaign_id"], row["subscriber_id"],
                                     row["server_id"], row["domain_group"] or "", row["email"]) for row in rows}


async def record_answers(workspace_id: int, answers: Sequence[tuple[int, Outcome]]) -> Applied:
    """Store and act on the send path's synchronous answers: (delivery id, `classifier.classify_reply`'s
    outcome). Deliveries outside the workspace are skipped; an answer already recorded for a delivery is
    not recorded again. The send path feeds AIMD itself, so blocks are only counted here."""
    matches = await _matches(workspace_id, [delivery_id for delivery_id, _ in answers])
    items = [Feedback(outcome, matches[delivery_id]) for delivery_id, outcome in answers if delivery_id in matches]
    if not items:
        return Applied([], [])
    settings = await thresholds.feedback_settings(workspace_id)
    async with DB.transaction():
        applied = await apply(workspace_id, items, settings)
    await after_commit(get_redis(), workspace_id, applied)
    return applied
