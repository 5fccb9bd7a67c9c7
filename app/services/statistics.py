"""Figures for reporting tools: per campaign, per delivery server, per day; read from the counters and rollups
the engine keeps as it goes, never from a scan of deliveries or events.

- a campaign: its counters (Redis while sending, its row otherwise), its engagement figures (opens, clicks,
  unsubscribes, conversions, revenue) and its bounce and complaint reports (`feedback_counts`);
- a server or a day: the hourly `feedback_counts` (messages sent and the reports matched to them, kept
  `FEEDBACK_COUNTS_KEPT`) and, per day, the lists' daily joins and leaves (`list_daily_stats`).
Days are UTC days.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta
from typing import Any

from redis.asyncio import Redis

from app.services.bounces.rates import campaign_rates
from app.services.campaigns.reports import live_figures
from app.services.housekeeping import FEEDBACK_COUNTS_KEPT
from app.services.sqlparams import Params, fetch
from app.services.tenancy import checked_workspace_id
from app.services.tracking.figures import campaign_figures

LONGEST_RANGE_DAYS = FEEDBACK_COUNTS_KEPT.days
DEFAULT_RANGE_DAYS = 30
REPORTS = ("hard", "soft", "block", "complaint")


class RangeError(ValueError):
    """A range of days that is backwards or longer than the counters are kept."""


def day_range(since: date | None, until: date | None, today: date) -> tuple[date, date]:
    """The first and last day asked for (both included): by default the last 30 days up to today."""
    last = until or today
    first = since or last - timedelta(days=DEFAULT_RANGE_DAYS - 1)
    if first > last:
        raise RangeError("`since` is after `until`.")
    if (last - first).days >= LONGEST_RANGE_DAYS:
        raise RangeError(f"Ask for at most {LONGEST_RANGE_DAYS} days: older hourly counters are not kept.")
    return first, last


async def campaign_statistics(redis: Redis, campaign: Mapping[str, Any]) -> dict[str, Any]:
    """Sending, delivery, engagement and money figures of one campaign as they stand now."""
    sending = await live_figures(redis, campaign)
    engagement = await campaign_figures(redis, campaign["workspace_id"], campaign["id"])
    reports = await campaign_rates(campaign["workspace_id"], campaign["id"])
    bounced = reports.hard + reports.soft + reports.block
    return {
        "campaign_id": campaign["id"], "status": campaign["status"],
        **{name: sending[name] for name in ("recipients", "sent", "failed", "skipped", "deferred", "waiting")},
        # Accepted by the receiving server and not reported back as a bounce since.
        "delivered": max(0, sending["sent"] - bounced),
        "bounces": bounced, "hard_bounces": reports.hard, "soft_bounces": reports.soft, "blocks": reports.block,
        "complaints": reports.complaint,
        **{name: int(value) for name, value in engagement.items() if name != "revenue"},
        "revenue": str(engagement["revenue"]),
        "by_server": {server: {status: int(n) for status, n in figures.items()}
                      for server, figures in (sending["breakdown"] or {}).get("servers", {}).items()},
    }


def _within(column: str, first: str, last: str) -> str:
    """`column` (a timestamptz) falls on one of the UTC days from `first` to `last` (date parameters)."""
    return (f"{column} >= ({first}::date)::timestamp AT TIME ZONE 'UTC' "
            f"AND {column} < ({last}::date + 1)::timestamp AT TIME ZONE 'UTC'")


async def server_statistics(workspace_id: int, first: date, last: date) -> list[dict[str, Any]]:
    """Per delivery server, the messages sent and the reports matched to them between two days (included);
    server 0 stands for messages whose server is not known (a report that named none)."""
    params = Params()
    workspace = params.add(checked_workspace_id(workspace_id))
    return await fetch(
        "SELECT f.server_id, coalesce(s.name, '') AS name, sum(f.sent)::bigint AS sent, "
        + ", ".join(f"sum(f.{name})::bigint AS {name}" for name in REPORTS)
        + " FROM feedback_counts f LEFT JOIN delivery_servers s ON s.id = f.server_id "
        f"AND s.workspace_id = {workspace} "
        f"WHERE f.workspace_id = {workspace} AND {_within('f.hour', params.add(first), params.add(last))} "
        "GROUP BY f.server_id, s.name ORDER BY f.server_id",
        params,
    )


async def daily_statistics(workspace_id: int, first: date, last: date) -> list[dict[str, Any]]:
    """Every UTC day between two days (included), oldest first and zero-filled: messages sent, the reports
    matched to them, and the subscriber rows added to and removed from the workspace's lists."""
    params = Params()
    workspace = params.add(checked_workspace_id(workspace_id))
    start, end = params.add(first), params.add(last)
    sums = ", ".join(f"sum(f.{name})::bigint AS {name}" for name in ("sent", *REPORTS))
    picks = ", ".join(f"coalesce(sending.{name}, 0)::bigint AS {name}" for name in ("sent", *REPORTS))
    return await fetch(
        f"WITH days AS (SELECT generate_series({start}::date, {end}::date, interval '1 day')::date AS day), "
        f"sending AS (SELECT (f.hour AT TIME ZONE 'UTC')::date AS day, {sums} FROM feedback_counts f "
        f"WHERE f.workspace_id = {workspace} AND {_within('f.hour', start, end)} GROUP BY 1), "
        "audience AS (SELECT d.day, sum(d.joined)::bigint AS joined, sum(d.left_list)::bigint AS left_list "
        f"FROM list_daily_stats d WHERE d.workspace_id = {workspace} AND d.day BETWEEN {start} AND {end} GROUP BY 1) "
        f"SELECT days.day, {picks}, coalesce(a.joined, 0)::bigint AS joined_lists, "
        "coalesce(a.left_list, 0)::bigint AS left_lists FROM days LEFT JOIN sending ON sending.day = days.day "
        "LEFT JOIN audience a ON a.day = days.day ORDER BY days.day",
        params,
    )
