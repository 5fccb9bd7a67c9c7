"""The best hours of the week to reach people: human opens per hour of the week (UTC), from `performance_hours`.

Send-time optimisation (a campaign's "best hour" mode, app/services/campaigns/send_times.py) uses the same
hour of the week, in UTC, from human opens only: per subscriber the hour they opened at most, else their
list's. This heatmap is the workspace's whole picture, from the rollups, for the period chosen.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.services.analytics.periods import Period
from app.services.campaigns.send_times import WEEK_HOURS, hour_of_week_sql
from app.services.sqlparams import Params, fetch
from app.services.tenancy import checked_workspace_id

DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
BEST = 3
# Opens follow sends: until mail went out in at least this many hours of the week, the busiest open hours are
# mostly the hours you sent in, not the hours people prefer.
SPREAD_HOURS = 6


@dataclass(frozen=True)
class BestHour:
    hour_of_week: int
    opens: int
    share: float

    @property
    def label(self) -> str:
        return f"{DAYS[self.hour_of_week // 24]} {self.hour_of_week % 24:02d}:00 UTC"


@dataclass(frozen=True)
class Heatmap:
    grid: list[list[int]]  # 7 days (Monday first) by 24 hours
    opens: int
    best: list[BestHour]
    # The hours of the week in which the period's mail was sent.
    send_hours: int = 0

    @property
    def follows_sends(self) -> bool:
        """Whether the opens mostly show when mail was sent rather than when people like to read it."""
        return 0 < self.send_hours < SPREAD_HOURS


async def opens_by_hour_of_week(workspace_id: int, period: Period) -> tuple[list[int], int]:
    """Human opens in each of the week's 168 hours (Monday 00:00 UTC first) over the period, and in how many of
    those hours mail was sent."""
    params = Params()
    rows = await fetch(
        f"SELECT {hour_of_week_sql('hour')} AS how, sum(human_opens)::bigint AS opens, sum(sent)::bigint AS sent "
        f"FROM performance_hours WHERE workspace_id = {params.add(checked_workspace_id(workspace_id))} "
        f"AND hour >= {params.add(period.start)} AND hour < {params.add(period.end)} GROUP BY 1", params)
    opens = [0] * WEEK_HOURS
    for row in rows:
        opens[row["how"]] = int(row["opens"] or 0)
    return opens, sum(1 for row in rows if row["sent"])


def heatmap(opens: list[int], send_hours: int = 0) -> Heatmap:
    total = sum(opens)
    ranked = sorted((hour for hour in range(WEEK_HOURS) if opens[hour] > 0), key=lambda hour: (-opens[hour], hour))
    return Heatmap(grid=[opens[day * 24:(day + 1) * 24] for day in range(7)], opens=total,
                   best=[BestHour(hour, opens[hour], opens[hour] / total) for hour in ranked[:BEST]],
                   send_hours=send_hours)


async def best_hours(workspace_id: int, period: Period) -> Heatmap:
    return heatmap(*await opens_by_hour_of_week(workspace_id, period))
