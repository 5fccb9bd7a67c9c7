"""Lua scripts and the shared clock: the Redis server's time is the one clock all workers agree on."""

from __future__ import annotations

from hashlib import sha1
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import NoScriptError

# Lua snippet: `now` in milliseconds, from ARGV[1] when a test passes a clock, else from Redis TIME.
# Redis 6.2 replicates script effects, so reading TIME before writing is allowed.
NOW_MS = """
local now = tonumber(ARGV[1])
if not now then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
"""


class LuaScript:
    """A script run by SHA, loaded on first use and again after the server lost its script cache."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.sha = sha1(source.encode()).hexdigest()

    async def __call__(self, redis: Redis, keys: list[str], args: list[Any]) -> Any:
        try:
            return await redis.evalsha(self.sha, len(keys), *keys, *args)
        except NoScriptError:
            # EVAL also puts the script in the cache, so the next call is an EVALSHA again.
            return await redis.eval(self.source, len(keys), *keys, *args)


def now_arg(now: float | None) -> str:
    """The ARGV[1] for NOW_MS: a fixed time in milliseconds, or empty for the server clock."""
    return "" if now is None else str(round(now * 1000))


async def server_now(redis: Redis, now: float | None = None) -> float:
    """Seconds since the epoch by the Redis server's clock, unless a test fixes `now`."""
    if now is not None:
        return now
    seconds, microseconds = await redis.time()
    return seconds + microseconds / 1_000_000
