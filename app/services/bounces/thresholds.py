"""Each workspace's feedback thresholds: soft bounces that count as hard, and the rates that warn or pause."""

from __future__ import annotations

from app.services import sqlparams
from app.services.bounces.model import FeedbackSettings


async def feedback_settings(workspace_id: int) -> FeedbackSettings:
    """The workspace's saved thresholds, or the issue's defaults until it saves its own."""
    rows = await sqlparams.fetch_positional(
        "SELECT soft_limit, soft_days, complaint_warn_rate, complaint_pause_rate, hard_pause_rate "
        "FROM feedback_settings WHERE workspace_id = $1", [workspace_id])
    return FeedbackSettings(**rows[0]) if rows else FeedbackSettings()
