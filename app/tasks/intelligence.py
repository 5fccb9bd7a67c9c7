"""Intelligence actors: once a day (after the engagement scores' decay) each workspace's score snapshot, then
its churn model retrained on its history and every mailable subscriber scored; "retrain now" queues the same."""

from __future__ import annotations

from datetime import UTC, datetime

import dramatiq

from app.db.accounts import Workspace
from app.services.analytics.intelligence import churn, scores
from app.tasks.broker import broker


@dramatiq.actor(broker=broker, queue_name="default", max_retries=0, time_limit=60_000)
async def refresh_intelligence() -> None:
    for row in await Workspace.select(Workspace.id):
        refresh_workspace_intelligence.send(row["id"])


@dramatiq.actor(broker=broker, queue_name="default", max_retries=2, time_limit=3_600_000)
async def refresh_workspace_intelligence(workspace_id: int) -> None:
    now = datetime.now(UTC)
    await scores.snapshot(workspace_id, now.date(), now)
    await churn.retrain(workspace_id, now)
