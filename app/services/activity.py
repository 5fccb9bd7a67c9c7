"""The live activity feed of a workspace, carried by Redis pub/sub."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from redis.asyncio import Redis


def channel(workspace_id: int) -> str:
    return f"activity:{workspace_id}"


async def publish(redis: Redis, workspace_id: int, event: dict[str, Any]) -> None:
    await redis.publish(channel(workspace_id), json.dumps(event, default=str))


async def follow(redis: Redis, workspace_id: int, idle_seconds: float = 15.0) -> AsyncIterator[dict[str, Any] | None]:
    """Events as they are published; None after each quiet spell so callers can send a keep-alive."""
    pubsub = redis.pubsub(ignore_subscribe_messages=True)
    await pubsub.subscribe(channel(workspace_id))
    try:
        while True:
            message = await pubsub.get_message(timeout=idle_seconds)
            yield json.loads(message["data"]) if message else None
    finally:
        await pubsub.unsubscribe()
        await pubsub.aclose()
