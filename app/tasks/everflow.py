"""Everflow actors: every 15 minutes each workspace with an enabled connection gets its own pull, so one slow or
failing network never holds up another's."""

from __future__ import annotations

import dramatiq

from app.logs import get_logger
from app.services.analytics import everflow
from app.tasks.broker import broker

log = get_logger("ignite.everflow")


async def queue_pulls() -> list[int]:
    """Queue a pull of each enabled connection; the workspaces queued."""
    workspaces = await everflow.enabled_workspaces()
    for workspace_id in workspaces:
        pull_everflow.send(workspace_id)
    return workspaces


@dramatiq.actor(broker=broker, queue_name="default", max_retries=0, time_limit=60_000)
async def pull_due_everflow() -> None:
    await queue_pulls()


# No retries: the error is noted on the connection's page, and the next pull, 15 minutes on, reads the same
# window again.
@dramatiq.actor(broker=broker, queue_name="default", max_retries=0, time_limit=900_000)
async def pull_everflow(workspace_id: int) -> None:
    result = await everflow.pull(workspace_id)
    if result.error:
        log.warning("everflow_pull_failed", workspace_id=workspace_id, error=result.error)
