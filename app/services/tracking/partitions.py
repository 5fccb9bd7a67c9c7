"""Monthly partitions of `events`, made ahead so that events never pile up in the default partition.

The database function (migration 2026-12-01T08:00) moves rows of a month out of `events_default`
before attaching that month's partition, so a late run still succeeds.
"""

from __future__ import annotations

from app.services import statements

MONTHS_AHEAD = 2


async def ensure_partitions(months_ahead: int = MONTHS_AHEAD) -> list[str]:
    """The partitions of this month and the next `months_ahead`, created where missing."""
    return [row["name"] for row in await statements.run("tracking.ensure-partitions", months_ahead)]
