"""Rates tests: sent counters as the campaign engine's write-back leaves them, placed in a chosen hour."""

from __future__ import annotations

from datetime import timedelta

from app.services.bounces.rates import UNKNOWN_ID
from app.services.sqlparams import fetch_positional


async def counted(workspace_id: int) -> list[dict]:
    """Every counter row of the workspace, oldest hour first, keys as stored."""
    return await fetch_positional(
        "SELECT hour, server_id, domain_group, campaign_id, sent, hard, soft, block, complaint FROM feedback_counts "
        "WHERE workspace_id = $1 ORDER BY hour, server_id, domain_group, campaign_id", [workspace_id])


async def add_sent(workspace_id: int, server_id: int | None, domain_group: str, n: int,
                   campaign_id: int | None = None, hours_ago: int = 0) -> None:
    """`n` messages counted as sent `hours_ago` hours back (0: this hour)."""
    await fetch_positional(
        "INSERT INTO feedback_counts AS f (workspace_id, hour, server_id, domain_group, campaign_id, sent) "
        "VALUES ($1, date_trunc('hour', now()) - $2::interval, $3, $4, $5, $6) "
        "ON CONFLICT (workspace_id, hour, server_id, domain_group, campaign_id) DO UPDATE SET sent = f.sent + $6",
        [workspace_id, timedelta(hours=hours_ago), server_id or UNKNOWN_ID, domain_group, campaign_id or UNKNOWN_ID,
         n])


async def age_counters(workspace_id: int, hours: int) -> None:
    """Time moves forward: every counter of the workspace moves `hours` into the past."""
    await fetch_positional("UPDATE feedback_counts SET hour = hour - $2::interval WHERE workspace_id = $1",
                           [workspace_id, timedelta(hours=hours)])
