"""Audience imports run on the `imports` queue, one actor call per import run."""

from __future__ import annotations

import dramatiq

from app.redis_client import get_redis
from app.services import housekeeping, imports
from app.tasks.broker import broker

# A 200 MB file takes minutes; the limit only stops a run that is truly stuck.
TIME_LIMIT_MS = 6 * 3600 * 1000


# No retries: a failed run leaves a record, and resuming it is the marketer's explicit choice.
@dramatiq.actor(broker=broker, queue_name="imports", max_retries=0, time_limit=TIME_LIMIT_MS)
async def run_import(workspace_id: int, import_id: int) -> None:
    await imports.run_import(workspace_id, import_id, get_redis())


@dramatiq.actor(broker=broker, queue_name="default", max_retries=3, time_limit=300_000)
async def discard_abandoned_imports() -> None:
    await housekeeping.discard_abandoned_imports(get_redis())
