"""Bounce and complaint rates over rolling windows, from hourly counters kept in PostgreSQL.

Processing counts each matched report (`count_feedback`, inside its own transaction, so a report is counted
exactly when its actions are committed); the campaign engine's batch write-back counts what was sent. A
rate is feedback over sent for the same (server, domain group) or campaign over the last 24 hours or 7 days.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from app.services import statements
from app.services.bounces.model import BLOCK, COMPLAINT, HARD, SOFT

# The categories that move a rate; the others (autoreply, delivered, unknown) are never counted.
COUNTED = (HARD, SOFT, BLOCK, COMPLAINT)


@dataclass(frozen=True)
class FeedbackCount:
    """`n` reports of one category about messages sent by one server to one domain group for one campaign."""

    server_id: int | None
    domain_group: str
    campaign_id: int | None
    category: str
    n: int = 1


async def count_feedback(workspace_id: int, counts: Sequence[FeedbackCount]) -> None:
    """Add reports to this hour's counters; joins the caller's transaction. Uncounted categories are skipped."""
    kept = [count for count in counts if count.category in COUNTED and count.n > 0]
    if not kept:
        return
    await statements.run(
        "feedback.count", workspace_id,
        [count.server_id for count in kept], [count.domain_group for count in kept],
        [count.campaign_id for count in kept], [count.category for count in kept], [count.n for count in kept],
    )
