"""Giving tokens back to the buckets they were taken from, for messages that were never sent.

A batch takes its tokens before it sends; a message that then does not go out
(its server could not be reached, the campaign was paused in between) must not
use up a server's hourly or daily quota. The refund keeps `buckets.py`'s state
format ("tokens:milliseconds"), refills to now first and never fills a bucket
past its capacity.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from redis.asyncio import Redis

from app.services.throttling.buckets import Bucket
from app.services.throttling.scripting import NOW_MS, LuaScript, now_arg

# KEYS: the buckets. ARGV: now, then (capacity, refill per ms, tokens to give back) per key.
_REFUND = LuaScript(NOW_MS + """
local states = redis.call('MGET', unpack(KEYS))
for i = 1, #KEYS do
  local capacity, rate, back = tonumber(ARGV[3 * i - 1]), tonumber(ARGV[3 * i]), tonumber(ARGV[3 * i + 1])
  -- A bucket with no state is full: there is nothing to give back to it.
  if states[i] then
    local sep = string.find(states[i], ':', 1, true)
    local elapsed = math.max(0, now - tonumber(string.sub(states[i], sep + 1)))
    local level = math.min(capacity, tonumber(string.sub(states[i], 1, sep - 1)) + elapsed * rate + back)
    if level >= capacity then
      redis.call('DEL', KEYS[i])
    else
      redis.call('SET', KEYS[i], level .. ':' .. now, 'PX', math.ceil((capacity - level) / rate) + 1000)
    end
  end
end
return #KEYS
""")


async def give_back(redis: Redis, taken: Sequence[tuple[Sequence[Bucket], int]], now: float | None = None) -> None:
    """Return the tokens of acquisitions that were granted but not used, in one round trip."""
    totals: Counter[str] = Counter()
    buckets: dict[str, Bucket] = {}
    for acquisition, tokens in taken:
        for bucket in acquisition:
            totals[bucket.key] += tokens
            buckets[bucket.key] = bucket
    if not totals:
        return
    args: list[object] = [now_arg(now)]
    for key, tokens in totals.items():
        bucket = buckets[key]
        args += [repr(float(bucket.capacity)), repr(bucket.refill_per_ms), tokens]
    await _REFUND(redis, list(totals), args)
