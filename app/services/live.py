"""Following a Redis channel for a live page: the messages as they are published, and a beat in quiet spells."""

from __future__ import annotations

from collections.abc import AsyncIterator

from redis.asyncio import Redis


async def followed(redis: Redis, channel: str, idle_seconds: float = 15.0, *,
                   announce_ready: bool = False) -> AsyncIterator[str | None]:
    """Each message published on `channel`; None after each quiet spell of `idle_seconds` (time for a keep-alive).

    With `announce_ready`, a first None comes once subscribed: what the caller reads then misses no later change.
    """
    pubsub = redis.pubsub(ignore_subscribe_messages=True)
    await pubsub.subscribe(channel)
    try:
        if announce_ready:
            yield None
        while True:
            message = await pubsub.get_message(timeout=idle_seconds)
            yield message["data"] if message else None
    finally:
        await pubsub.unsubscribe()
        await pubsub.aclose()
