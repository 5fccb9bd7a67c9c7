"""Live progress over Redis: a pub/sub channel per import, a heartbeat while it runs, and the cancel flag."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from redis.asyncio import Redis

from app.services.live import followed

# A run refreshes its heartbeat with every batch; one missing this long is taken for dead.
HEARTBEAT_SECONDS = 60
FINISHED = frozenset({"completed", "failed", "cancelled", "rolled_back"})
COUNTERS = ("rows_seen", "inserted", "updated", "skipped_duplicate", "invalid", "suppressed")


def channel(import_id: int) -> str:
    return f"import:{import_id}"


def _alive_key(import_id: int) -> str:
    return f"import:{import_id}:alive"


def _cancel_key(import_id: int) -> str:
    return f"import:{import_id}:cancel"


def snapshot(row: dict[str, Any]) -> dict[str, Any]:
    """What the progress bar and summary show, from an import row."""
    total = int(row["total_bytes"] or 0)
    done = int(row["processed_bytes"] or 0)
    percent = 100 if row["status"] == "completed" else (min(99, done * 100 // total) if total else 0)
    return {
        "id": row["id"], "status": row["status"], "error": row["error"], "percent": percent,
        "processed_bytes": done, "total_bytes": total, **{name: int(row[name]) for name in COUNTERS},
    }


async def publish(redis: Redis, state: dict[str, Any]) -> None:
    await redis.publish(channel(state["id"]), json.dumps(state))


async def follow(redis: Redis, import_id: int, idle_seconds: float = 15.0) -> AsyncIterator[dict[str, Any] | None]:
    """States as they are published; None once subscribed and after each quiet spell.

    The first None tells the caller it may now read the current state without
    missing a change published meanwhile; later ones are for keep-alives.
    """
    async for message in followed(redis, channel(import_id), idle_seconds, announce_ready=True):
        yield json.loads(message) if message else None


async def beat(redis: Redis, import_id: int) -> None:
    await redis.set(_alive_key(import_id), "1", ex=HEARTBEAT_SECONDS)


async def stop_beating(redis: Redis, import_id: int) -> None:
    await redis.delete(_alive_key(import_id), _cancel_key(import_id))


async def is_alive(redis: Redis, import_id: int) -> bool:
    return bool(await redis.exists(_alive_key(import_id)))


async def request_cancel(redis: Redis, import_id: int) -> None:
    await redis.set(_cancel_key(import_id), "1", ex=24 * 3600)


async def cancel_requested(redis: Redis, import_id: int) -> bool:
    return bool(await redis.exists(_cancel_key(import_id)))


async def clear_cancel(redis: Redis, import_id: int) -> None:
    await redis.delete(_cancel_key(import_id))
