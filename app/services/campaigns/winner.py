"""The A/B winner: chosen once the wait is over, recorded with what the test taught, then sent to the rest.

The scheduler runs `decide_due` every minute across workspaces. A test is due
once `ab_wait_minutes` have passed since its campaign started. Its metric is
counted per variant from the events table (opens, clicks or conversions joined
to the deliveries the test sent); the highest rate wins, a tie going to the
lowest variant. The decision is one compare-and-set on the campaign (only a
campaign with no decision yet takes it) together with its `content_learnings`
rows and the audit entry, so two schedulers firing at once decide once. The
held rest then becomes queued rows of the winning variant, released in chunks
and queued as each lands; a release cut short (or a chunk materialised after
the decision) is finished by the next run.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from redis.asyncio import Redis

from app.db.campaigns import Campaign, ContentLearning
from app.services import audit, statements
from app.services.accounts import now
from app.services.audit import SYSTEM
from app.services.campaigns.drafts import get_campaign
from app.services.campaigns.ending import note_progress
from app.services.campaigns.queue import SendQueue, enqueue_ranges, id_ranges
from app.services.campaigns.variants import rate, variant_figures, variants_of
from app.services.tenancy import checked_workspace_id, owned_by
from app.settings import get_settings

DECIDABLE = ("sending", "paused", "sent")
RELEASE_CHUNK = 20_000


def lift(variant_rate: float, baseline_rate: float) -> float | None:
    """The relative change of a rate against the baseline's; None when the baseline is 0."""
    return (variant_rate - baseline_rate) / baseline_rate if baseline_rate else None


def p_value(successes_a: int, sample_a: int, successes_b: int, sample_b: int) -> float | None:
    """Two-sided p-value of a two-proportion z-test (pooled); None when either sample is empty."""
    if not sample_a or not sample_b:
        return None
    pooled = (successes_a + successes_b) / (sample_a + sample_b)
    spread = math.sqrt(pooled * (1 - pooled) * (1 / sample_a + 1 / sample_b))
    if spread == 0:
        # Both all successes or both none: no difference was observed.
        return 1.0
    z = (successes_a / sample_a - successes_b / sample_b) / spread
    return math.erfc(abs(z) / math.sqrt(2))


def winning_variant(figures: list[dict]) -> int:
    """The variant with the highest rate; ties go to the lowest variant."""
    return min(figures, key=lambda row: (-rate(row["successes"], row["sent"]), row["variant"]))["variant"]


def learnings(campaign: Mapping[str, Any], figures: list[dict], labels: Mapping[int, str],
              winner: int) -> list[dict]:
    """One content_learnings row per variant.

    Lift and p-value compare each variant with variant 1, the first one written (usually the
    marketer's usual version, so it serves as the control); variant 1's own lift is 0 and its p-value None.
    """
    control = figures[0]
    control_rate = rate(control["successes"], control["sent"])
    rows = []
    for row in figures:
        own_rate = rate(row["successes"], row["sent"])
        is_control = row["variant"] == control["variant"]
        rows.append({
            "variant": row["variant"], "dimension": campaign["ab_dimension"], "content": labels.get(row["variant"], ""),
            "metric": campaign["ab_metric"], "sample_size": row["sent"], "successes": row["successes"],
            "rate": own_rate, "lift": 0.0 if is_control else lift(own_rate, control_rate),
            "p_value": None if is_control else p_value(row["successes"], row["sent"], control["successes"],
                                                        control["sent"]),
            "winner": row["variant"] == winner,
        })
    return rows


async def decide(redis: Redis, queue: SendQueue, workspace_id: int, campaign_id: int) -> bool:
    """Choose and record the test's winner, then send it to the held rest; False when already decided."""
    campaign = await get_campaign(workspace_id, campaign_id)
    figures = await variant_figures(workspace_id, campaign)
    if not figures or campaign["ab_decided_at"] is not None:
        return False
    winner = winning_variant(figures)
    labels = {row["variant"]: row["label"] for row in await variants_of(workspace_id, campaign_id)}
    learned = learnings(campaign, figures, labels, winner)
    async with audit.change(redis, workspace_id, SYSTEM) as change:
        decided = await Campaign.update({
            Campaign.ab_winner: winner, Campaign.ab_decided_at: now(), Campaign.updated_at: now(),
        }).where(owned_by(Campaign, workspace_id), Campaign.id == campaign_id, Campaign.ab_decided_at.is_null(),
                 Campaign.status.is_in(list(DECIDABLE))).returning(Campaign.id)
        if decided:
            await ContentLearning.insert(*[ContentLearning(
                workspace_id=checked_workspace_id(workspace_id), campaign_id=campaign_id, created_at=now(), **row)
                for row in learned])
            change.note("campaign.ab_decided", "campaign", campaign_id, {
                "winner": winner, "metric": campaign["ab_metric"],
                "rates": {str(row["variant"]): round(row["rate"], 4) for row in learned}})
    if decided:
        await release_held(redis, queue, workspace_id, campaign_id, winner)
    return bool(decided)


async def release_held(redis: Redis, queue: SendQueue, workspace_id: int, campaign_id: int, winner: int) -> int:
    """Turn the held rows into queued rows of the winner, queueing each chunk as it lands; returns how many."""
    batch_size = get_settings().sending.batch_size
    released = 0
    while True:
        ids = [row["id"] for row in await statements.run("ab_tests.release-held", workspace_id, campaign_id,
                                                         winner, RELEASE_CHUNK)]
        enqueue_ranges(queue, workspace_id, campaign_id, id_ranges(ids, batch_size))
        released += len(ids)
        if len(ids) < RELEASE_CHUNK:
            break
    if released:
        await note_progress(redis, campaign_id)
    return released


async def decide_due(redis: Redis, queue: SendQueue) -> list[int]:
    """Decide every test whose wait is over (across workspaces) and finish releases left unfinished."""
    decided = [row["id"] for row in await statements.run("ab_tests.due")
               if await decide(redis, queue, row["workspace_id"], row["id"])]
    for row in await statements.run("ab_tests.held-after-decision"):
        await release_held(redis, queue, row["workspace_id"], row["id"], row["ab_winner"])
    return decided
