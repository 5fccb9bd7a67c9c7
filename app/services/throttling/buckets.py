"""Token buckets in Redis, shared by every worker process and machine.

A bucket holds up to `capacity` tokens and refills continuously at `limit`
tokens per `period`. One `acquire()` takes tokens from several buckets in one
Lua script, so a send gets all the tokens it needs or none, and when it gets
none it learns how long to wait instead of polling. `acquire_many()` decides a
whole batch of such acquisitions (say, one per message of a send batch) in one
round trip, in order, each still all-or-none on its own.

State per bucket is one string "tokens:milliseconds" (one MGET reads them all,
one SET writes each touched bucket) that expires once the bucket would be full
again, so idle buckets cost nothing. In any interval of T seconds a bucket
grants at most `capacity + limit * T / period` tokens.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from redis.asyncio import Redis

from app.services.throttling.scripting import NOW_MS, LuaScript, now_arg

SECOND = 1
MINUTE = 60
HOUR = 3600
DAY = 86400
MONTH = 30 * DAY

# Starting points per recipient domain group for a new IP, per hour; editable per server.
DEFAULT_DOMAIN_GROUP_PER_HOUR: dict[str, int] = {
    "gmail": 500,
    "yahoo": 400,
    "microsoft": 400,
    "apple": 300,
    "others": 1000,
}

# KEYS: the distinct buckets. ARGV: now, number of requests, (capacity, refill per ms) per key,
# then one string per request: "tokens i j ...", i j ... being its buckets' 1-based KEYS indexes
# (one argument per request keeps the client's packing cheap for big batches).
# Reply: per request granted, wait in ms, its limiting bucket (1-based, 0 if granted); then each key's level.
_ACQUIRE = LuaScript(NOW_MS + """
local states = #KEYS > 0 and redis.call('MGET', unpack(KEYS)) or {}
local capacity, rate, level, touched = {}, {}, {}, {}
for i = 1, #KEYS do
  capacity[i], rate[i] = tonumber(ARGV[1 + 2 * i]), tonumber(ARGV[2 + 2 * i])
  level[i] = capacity[i]
  if states[i] then
    local sep = string.find(states[i], ':', 1, true)
    local elapsed = math.max(0, now - tonumber(string.sub(states[i], sep + 1)))
    level[i] = math.min(capacity[i], tonumber(string.sub(states[i], 1, sep - 1)) + elapsed * rate[i])
  end
end
local reply = {}
for r = 1, tonumber(ARGV[2]) do
  local numbers = {}
  for n in string.gmatch(ARGV[2 + 2 * #KEYS + r], '%S+') do numbers[#numbers + 1] = tonumber(n) end
  local need, wait, limiting = numbers[1], 0, 0
  for j = 2, #numbers do
    local i = numbers[j]
    if level[i] < need then
      local ms = math.ceil((need - level[i]) / rate[i])
      if ms > wait then wait, limiting = ms, j - 1 end
    end
  end
  reply[#reply + 1] = limiting == 0 and 1 or 0
  reply[#reply + 1] = wait
  reply[#reply + 1] = limiting
  if limiting == 0 then
    for j = 2, #numbers do
      level[numbers[j]] = level[numbers[j]] - need
      touched[numbers[j]] = true
    end
  end
end
for i in pairs(touched) do
  redis.call('SET', KEYS[i], level[i] .. ':' .. now, 'PX', math.ceil((capacity[i] - level[i]) / rate[i]) + 1000)
end
for i = 1, #KEYS do reply[#reply + 1] = math.floor(level[i]) end
return reply
""")


@dataclass(frozen=True)
class Bucket:
    key: str
    limit: float
    period: float
    burst: float | None = None

    def __post_init__(self) -> None:
        if self.limit <= 0 or self.period <= 0:
            raise ValueError(f"bucket {self.key}: limit and period must be positive")

    @property
    def capacity(self) -> float:
        return self.limit if self.burst is None else self.burst

    @property
    def refill_per_ms(self) -> float:
        return self.limit / (self.period * 1000)


@dataclass(frozen=True)
class Grant:
    """One acquisition's outcome; `remaining` is each of its buckets' whole tokens once the call was decided."""

    granted: bool
    retry_after: float = 0.0
    limited_by: str | None = None
    remaining: dict[str, int] = field(default_factory=dict)


def level_at(bucket: Bucket, tokens: float, stored_ms: int, now_ms: int) -> float:
    """Tokens in `bucket` at `now_ms`, given what was stored at `stored_ms` (the script's refill, in Python)."""
    elapsed = max(0, now_ms - stored_ms)
    return min(bucket.capacity, tokens + elapsed * bucket.refill_per_ms)


async def acquire(redis: Redis, buckets: Sequence[Bucket], tokens: int = 1, now: float | None = None) -> Grant:
    """Take `tokens` from every bucket or from none; when refused, `retry_after` says how long to wait."""
    [grant] = await acquire_many(redis, [(buckets, tokens)], now)
    return grant


async def acquire_many(
    redis: Redis, requests: Sequence[tuple[Sequence[Bucket], int]], now: float | None = None
) -> list[Grant]:
    """Decide several (buckets, tokens) acquisitions in one round trip, in order, each all-or-none."""
    if not requests:
        return []
    planned = Acquisition.of(requests, now)
    return planned.grants(await planned.run(redis))


@dataclass(frozen=True)
class Acquisition:
    """An `acquire_many` taken apart, for a caller that sends it in a pipeline along with commands of its own:
    `command()` is the script's call, `grants()` reads its reply. A reply that is a NoScriptError (the server
    lost its scripts) means nothing was taken: `run()` sends it again alone, loading the script."""

    requests: Sequence[tuple[Sequence[Bucket], int]]
    keys: list[str]
    args: list[object]

    @classmethod
    def of(cls, requests: Sequence[tuple[Sequence[Bucket], int]], now: float | None = None) -> Acquisition:
        keys: dict[str, int] = {}
        distinct: list[Bucket] = []
        plan: list[str] = []
        for buckets, tokens in requests:
            if len({bucket.key for bucket in buckets}) < len(buckets):
                raise ValueError("a bucket is listed twice in one acquisition")
            for bucket in buckets:
                if tokens > bucket.capacity:
                    raise ValueError(f"{tokens} tokens can never fit bucket {bucket.key} (capacity {bucket.capacity})")
                if bucket.key not in keys:
                    keys[bucket.key] = len(distinct) + 1
                    distinct.append(bucket)
                elif distinct[keys[bucket.key] - 1] != bucket:
                    raise ValueError(f"bucket {bucket.key} is given twice with different limits")
            plan.append(" ".join([str(tokens), *(str(keys[bucket.key]) for bucket in buckets)]))
        args: list[object] = [now_arg(now), len(requests)]
        for bucket in distinct:
            args += [repr(float(bucket.capacity)), repr(bucket.refill_per_ms)]
        return cls(requests, list(keys), args + plan)

    def command(self) -> tuple[object, ...]:
        return ("EVALSHA", _ACQUIRE.sha, len(self.keys), *self.keys, *self.args)

    async def run(self, redis: Redis) -> list[int]:
        return await _ACQUIRE(redis, self.keys, self.args)

    def grants(self, reply: Sequence[int]) -> list[Grant]:
        decided, levels = reply[:3 * len(self.requests)], reply[3 * len(self.requests):]
        left = dict(zip(self.keys, levels, strict=True))
        return [
            Grant(
                granted=bool(granted),
                retry_after=int(wait_ms) / 1000,
                limited_by=buckets[int(limiting) - 1].key if limiting else None,
                remaining={bucket.key: left[bucket.key] for bucket in buckets},
            )
            for (buckets, _), granted, wait_ms, limiting in zip(
                self.requests, decided[0::3], decided[1::3], decided[2::3], strict=True
            )
        ]


async def tokens_left(redis: Redis, buckets: Sequence[Bucket], now: float | None = None) -> dict[str, int]:
    """Whole tokens in each bucket right now, read without taking any (for the Delivery page)."""
    if not buckets:
        return {}
    async with redis.pipeline(transaction=False) as pipe:
        pipe.time()
        pipe.mget([bucket.key for bucket in buckets])
        (seconds, micros), states = await pipe.execute()
    now_ms = round(now * 1000) if now is not None else seconds * 1000 + micros // 1000
    left = {}
    for bucket, state in zip(buckets, states, strict=True):
        if state is None:  # never used, or idle long enough to be full again
            left[bucket.key] = math.floor(bucket.capacity)
            continue
        tokens, stamp = _text(state).split(":")
        left[bucket.key] = math.floor(level_at(bucket, float(tokens), int(stamp), now_ms))
    return left


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value


def server_buckets(
    server_id: int,
    *,
    per_second: float | None = None,
    per_hour: float | None = None,
    per_day: float | None = None,
    per_month: float | None = None,
) -> list[Bucket]:
    """The quota buckets of one delivery server; a quota left as None is not enforced."""
    quotas = {"second": (per_second, SECOND), "hour": (per_hour, HOUR), "day": (per_day, DAY),
              "month": (per_month, MONTH)}
    return [
        Bucket(f"throttle:server:{server_id}:{name}", limit, period)
        for name, (limit, period) in quotas.items()
        if limit is not None
    ]


def domain_group_bucket(server_id: int, group: str, per_hour: float) -> Bucket:
    return Bucket(f"throttle:server:{server_id}:group:{group}:hour", per_hour, HOUR)


def workspace_bucket(workspace_id: int, per_minute: float) -> Bucket:
    return Bucket(f"throttle:workspace:{workspace_id}:minute", per_minute, MINUTE)
