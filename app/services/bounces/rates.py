"""Bounce and complaint rates over rolling windows, from hourly counters kept in PostgreSQL.

Processing counts each matched report (`count_feedback`, inside its own transaction, so a report is counted
exactly when its actions are committed); the campaign engine's batch write-back counts what was sent
(`count_sent`, in the write-back's transaction). A rate is feedback over sent for the same (server, domain
group) over the last 24 hours or 7 days, or for a campaign over its whole send. AIMD's Redis slots keep ten
minutes only: these counters are what thresholds are held against.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from app.services import statements
from app.services.bounces.model import BLOCK, COMPLAINT, HARD, SOFT

# The categories that move a rate; the others (autoreply, delivered, unknown) are never counted.
COUNTED = (HARD, SOFT, BLOCK, COMPLAINT)
DAY = timedelta(hours=24)
WEEK = timedelta(days=7)
# A server or campaign the report could not be matched to is counted under 0 (see the migration).
UNKNOWN_ID = 0


@dataclass(frozen=True)
class FeedbackCount:
    """`n` reports of one category about messages sent by one server to one domain group for one campaign."""

    server_id: int | None
    domain_group: str
    campaign_id: int | None
    category: str
    n: int = 1


@dataclass(frozen=True)
class Rates:
    """Messages sent and the reports about them, over one window."""

    sent: int = 0
    hard: int = 0
    soft: int = 0
    block: int = 0
    complaint: int = 0

    def _share(self, count: int) -> float:
        return count / self.sent if self.sent else 0.0

    @property
    def hard_rate(self) -> float:
        return self._share(self.hard)

    @property
    def complaint_rate(self) -> float:
        return self._share(self.complaint)

    @property
    def block_rate(self) -> float:
        return self._share(self.block)

    @property
    def bounce_rate(self) -> float:
        """Every bounce, whoever's fault: hard, soft and block."""
        return self._share(self.hard + self.soft + self.block)


@dataclass(frozen=True)
class PairRates:
    """One (server, domain group)'s rates over the last day and the last week."""

    server_id: int | None
    domain_group: str
    day: Rates
    week: Rates


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


async def count_sent(workspace_id: int, delivery_ids: Sequence[int]) -> None:
    """Add the deliveries just written back as sent to this hour's counters; joins the caller's transaction."""
    if delivery_ids:
        await statements.run("feedback.count-sent", workspace_id, list(delivery_ids))


def _rates(row: dict, prefix: str = "") -> Rates:
    return Rates(**{name: int(row[prefix + name] or 0) for name in ("sent", "hard", "soft", "block", "complaint")})


async def pair_rates(workspace_id: int, server_id: int | None, domain_group: str, window: timedelta = DAY) -> Rates:
    """One (server, domain group)'s totals over the hours within `window`."""
    [row] = await statements.run("feedback.of-pair", workspace_id, server_id or UNKNOWN_ID, domain_group, window)
    return _rates(row)


async def campaign_rates(workspace_id: int, campaign_id: int) -> Rates:
    """A campaign's totals since it started."""
    [row] = await statements.run("feedback.of-campaign", workspace_id, campaign_id)
    return _rates(row)


async def rates_by_pair(workspace_id: int) -> list[PairRates]:
    """Every (server, domain group) with messages or reports in the last week, by server then group."""
    rows = await statements.run("feedback.by-pair", workspace_id, DAY, WEEK)
    return [PairRates(row["server_id"] or None, row["domain_group"], _rates(row, "short_"), _rates(row, "long_"))
            for row in rows]


async def forget_counts_before(moment: datetime) -> int:
    """Drops the hourly counters older than `moment`; how many went."""
    return int((await statements.run("feedback.forget-before", moment))[0]["forgotten"])
