"""One asyncio Redis client per process, built from settings."""

from __future__ import annotations

from functools import lru_cache

import redis as syncredis
import redis.asyncio as aioredis
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.retry import Retry

from app.settings import get_settings

# After a Redis restart every pooled connection is stale: a command retries on a fresh one instead of failing.
RETRIES = 6
RETRIED = [RedisConnectionError, RedisTimeoutError]


def _async_client(url: str) -> aioredis.Redis:
    return aioredis.Redis.from_url(url, decode_responses=True, health_check_interval=30,
                                   retry=AsyncRetry(ExponentialBackoff(cap=1, base=0.05), RETRIES),
                                   retry_on_error=RETRIED)


@lru_cache(maxsize=1)
def get_redis() -> aioredis.Redis:
    return _async_client(get_settings().redis.url)


@lru_cache(maxsize=1)
def get_broker_redis() -> aioredis.Redis:
    """The task broker's database (settings: `RedisSettings.broker_url`), for reading its queues."""
    return _async_client(get_settings().redis.broker_url)


@lru_cache(maxsize=1)
def get_sync_redis() -> syncredis.Redis:
    """For threads outside an event loop: the scheduler, worker middleware."""
    return syncredis.Redis.from_url(get_settings().redis.url, decode_responses=True, health_check_interval=30,
                                    retry=Retry(ExponentialBackoff(cap=1, base=0.05), RETRIES),
                                    retry_on_error=RETRIED)
