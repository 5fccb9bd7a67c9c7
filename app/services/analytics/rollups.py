"""The Analytics rollups: what was sent, what came back and what it earned, per hour and per UTC day.

The writers of the raw rows keep them current in their own transactions: the send path's write-back
(`count_outcomes`), the bounce processor (`count_bounces`), and, inside their own statements, the tracking
aggregator, the unsubscribe and the postback (tracking.sql, recipients.sql, conversions.sql). `rebuild`
recomputes whole days from the raw tables; a test holds the two equal (app/services/sql/rollups.sql says what
each measure counts).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, time, timedelta

from app.piccolo_conf import DB
from app.services import statements

DAY = timedelta(days=1)


async def count_outcomes(workspace_id: int, delivery_ids: Sequence[int]) -> None:
    """Add the deliveries just written back as sent or failed; joins the caller's transaction."""
    if delivery_ids:
        await statements.run("rollups.count-outcomes", workspace_id, list(delivery_ids))


async def count_bounces(workspace_id: int, bounce_ids: Sequence[int]) -> None:
    """Add the bounces just stored or reclassified; joins the caller's transaction."""
    if bounce_ids:
        await statements.run("rollups.count-bounces", workspace_id, list(bounce_ids))


def _midnight(moment: datetime) -> datetime:
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return datetime.combine(moment.astimezone(UTC).date(), time(), UTC)


def whole_days(since: datetime, until: datetime) -> list[datetime]:
    """The first moment of every UTC day that [since, until) touches."""
    first, last = _midnight(since), _midnight(until)
    if last < until.replace(tzinfo=until.tzinfo or UTC):
        last += DAY
    return [first + DAY * n for n in range((last - first) // DAY)]


async def rebuild(since: datetime, until: datetime, workspace_id: int | None = None) -> None:
    """Recompute the hour and day rollups of [since, until), widened to whole UTC days, from the raw tables.

    One day per transaction, so a long range never holds locks for long; running it twice changes nothing.
    """
    for day in whole_days(since, until):
        async with DB.transaction():
            await statements.run("rollups.forget", day, day + DAY, workspace_id)
            await statements.run("rollups.recompute", day, day + DAY, workspace_id)
            await statements.run("rollups.recompute-conversion-days", day, day + DAY, workspace_id)
