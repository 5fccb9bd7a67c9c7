"""Quota buckets rebuilt after Redis lost them, from what was actually sent.

A bucket with no state in Redis counts as full. After a Redis restart that lost
its data (no AOF, a lost disk, a new server) every server would then get its
whole day, hour and month again, however much it had sent. So each workspace
keeps a marker key next to its buckets: while it is missing, the first send
counts what every server sent in the last hour, day and month (from the
deliveries table, PostgreSQL being the truth) and sets each bucket to at most
its capacity minus that, before any token is taken. The marker is set in the
same script, so the rebuild happens once however many workers find it missing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from redis.asyncio import Redis

from app.services.throttling.buckets import Bucket
from app.services.throttling.scripting import NOW_MS, LuaScript, now_arg

# KEYS[1]: the marker, then the buckets. ARGV: now, then (capacity, refill per ms, tokens used) per bucket.
# A bucket keeps the lower of its own level and capacity minus use: tokens taken since the restart count too.
_RESTORE = LuaScript(NOW_MS + """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
for i = 2, #KEYS do
  local capacity, rate = tonumber(ARGV[3 * i - 4]), tonumber(ARGV[3 * i - 3])
  local level = math.max(0, capacity - tonumber(ARGV[3 * i - 2]))
  local state = redis.call('GET', KEYS[i])
  if state then
    local sep = string.find(state, ':', 1, true)
    local elapsed = math.max(0, now - tonumber(string.sub(state, sep + 1)))
    level = math.min(level, tonumber(string.sub(state, 1, sep - 1)) + elapsed * rate)
  end
  if level < capacity then
    redis.call('SET', KEYS[i], level .. ':' .. now, 'PX', math.ceil((capacity - level) / rate) + 1000)
  end
end
redis.call('SET', KEYS[1], now)
return 1
""")


def marker_key(workspace_id: int) -> str:
    return f"throttle:workspace:{workspace_id}:restored"


async def needs_restore(redis: Redis, workspace_id: int) -> bool:
    """True when Redis has no record of this workspace's buckets being rebuilt (it lost its data, or is new)."""
    return not await redis.exists(marker_key(workspace_id))


async def restore(redis: Redis, workspace_id: int, used: Sequence[tuple[Bucket, int]],
                  now: float | None = None) -> bool:
    """Set each bucket to at most capacity minus `used` tokens, unless another worker did it first;
    True when this call did."""
    args: list[object] = [now_arg(now)]
    for bucket, tokens in used:
        args += [repr(float(bucket.capacity)), repr(bucket.refill_per_ms), int(tokens)]
    keys = [marker_key(workspace_id), *(bucket.key for bucket, _ in used)]
    return bool(await _RESTORE(redis, keys, args))


def period_usage(buckets: Sequence[Bucket], sent: Mapping[float, int]) -> list[tuple[Bucket, int]]:
    """Each bucket with what was sent within its period (`sent` is by period in seconds)."""
    return [(bucket, sent.get(bucket.period, 0)) for bucket in buckets if bucket.period in sent]
