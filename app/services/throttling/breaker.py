"""Circuit breaker per delivery server, kept in Redis so every worker sees the same state.

closed: traffic flows; `failure_threshold` consecutive connection/5xx failures open it.
open: no traffic until `cooldown_seconds` have passed, then it turns half-open.
half-open: up to `success_threshold` probe sends are let through; that many successes
close it, any failure opens it again. Probes whose outcome never comes (a worker died)
are given back after another cool-down, so the breaker cannot stay stuck half-open.
Every change of state is recorded as a `Decision` in the server's list.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from redis.asyncio import Redis

from app.services.throttling.decisions import KEEP_DECISIONS, decisions_key
from app.services.throttling.scripting import NOW_MS, LuaScript, now_arg

_EVENT = LuaScript(NOW_MS + """
local event, fail_n, cool, ok_n, why = ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5]), ARGV[6]
local h = redis.call('HMGET', KEYS[1], 'state', 'failures', 'successes', 'probes', 'since', 'reason')
local state, reason = h[1] or 'closed', h[6] or ''
local failures, successes = tonumber(h[2]) or 0, tonumber(h[3]) or 0
local probes, since = tonumber(h[4]) or 0, tonumber(h[5]) or now
local before = state
local function move(to, because)
  state, reason, since, successes, probes = to, because, now, 0, 0
end
if state == 'open' and now - since >= cool then move('half_open', 'cool-down over: probing') end
if state == 'half_open' and probes >= ok_n and now - since >= cool then since, probes = now, 0 end
if event == 'failure' then
  failures = failures + 1
  if state == 'half_open' then
    move('open', 'probe failed: ' .. why)
  elseif state == 'closed' and failures >= fail_n then
    move('open', failures .. ' consecutive failures, last: ' .. why)
  end
elseif event == 'success' then
  failures = 0
  if state == 'half_open' then
    successes = successes + 1
    if successes >= ok_n then move('closed', successes .. ' probe sends succeeded') end
  end
end
local allowed = 1
if state == 'open' or (state == 'half_open' and probes >= ok_n) then allowed = 0 end
if event == 'allow' and allowed == 1 and state == 'half_open' then probes = probes + 1 end
redis.call('HSET', KEYS[1], 'state', state, 'failures', failures, 'successes', successes,
           'probes', probes, 'since', since, 'reason', reason)
if state ~= before then
  redis.call('LPUSH', KEYS[2], cjson.encode({at = now / 1000, server_id = tonumber(ARGV[7]), kind = 'breaker',
             subject = 'circuit', old = before, new = state, reason = reason}))
  redis.call('LTRIM', KEYS[2], 0, tonumber(ARGV[8]) - 1)
end
local retry = 0
if allowed == 0 then retry = math.max(0, since + cool - now) end
return {state, allowed, failures, successes, retry, reason, before}
""")


class CircuitState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass(frozen=True)
class BreakerPolicy:
    failure_threshold: int = 5
    cooldown_seconds: float = 60.0
    success_threshold: int = 3


@dataclass(frozen=True)
class BreakerStatus:
    state: CircuitState
    allowed: bool
    failures: int
    successes: int
    retry_after: float
    reason: str
    previous: CircuitState

    @property
    def changed(self) -> bool:
        return self.state != self.previous


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value


async def _event(
    redis: Redis, server_id: int, policy: BreakerPolicy, event: str, reason: str, now: float | None
) -> BreakerStatus:
    args = [now_arg(now), event, policy.failure_threshold, round(policy.cooldown_seconds * 1000),
            policy.success_threshold, reason, server_id, KEEP_DECISIONS]
    state, allowed, failures, successes, retry_ms, why, before = await _EVENT(
        redis, [f"throttle:breaker:{server_id}", decisions_key(server_id)], args
    )
    return BreakerStatus(
        state=CircuitState(_text(state)), allowed=bool(allowed), failures=int(failures),
        successes=int(successes), retry_after=int(retry_ms) / 1000, reason=_text(why),
        previous=CircuitState(_text(before)),
    )


async def breaker_allows(
    redis: Redis, server_id: int, policy: BreakerPolicy, now: float | None = None
) -> BreakerStatus:
    """Ask to send through the server; in half-open this takes one of the probe permits."""
    return await _event(redis, server_id, policy, "allow", "", now)


async def breaker_status(
    redis: Redis, server_id: int, policy: BreakerPolicy, now: float | None = None
) -> BreakerStatus:
    """The state as a send would find it, without taking a probe permit."""
    return await _event(redis, server_id, policy, "peek", "", now)


async def record_success(
    redis: Redis, server_id: int, policy: BreakerPolicy, now: float | None = None
) -> BreakerStatus:
    return await _event(redis, server_id, policy, "success", "", now)


async def record_failure(
    redis: Redis, server_id: int, policy: BreakerPolicy, reason: str, now: float | None = None
) -> BreakerStatus:
    """Count a connection failure or 5xx answer from the server itself (not a recipient's rejection)."""
    return await _event(redis, server_id, policy, "failure", reason, now)
