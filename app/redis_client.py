"""One asyncio Redis client per process, built from settings."""

from __future__ import annotations

from functools import lru_cache

import redis as syncredis
import redis.asyncio as aioredis

from app.settings import get_settings


@lru_cache(maxsize=1)
def get_redis() -> aioredis.Redis:
    return aioredis.Redis.from_url(get_settings().redis.url, decode_responses=True, health_check_interval=30)


@lru_cache(maxsize=1)
def get_sync_redis() -> syncredis.Redis:
    """For threads outside an event loop: the scheduler, worker middleware."""
    return syncredis.Redis.from_url(get_settings().redis.url, decode_responses=True)
