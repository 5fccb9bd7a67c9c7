"""Adaptive rate per (server, recipient domain group): AIMD on deferrals and bounces.

Outcomes are counted in one-minute slots in Redis, so every worker feeds and
reads the same rolling window. When the share of deferrals (4xx) and bounces
passes the threshold the hourly rate is cut multiplicatively; while it stays
under, the rate climbs back additively to the configured ceiling. Each change
waits a cool-down (by default one window), so the next decision rests on
evidence gathered at the new rate, and is recorded as a `Decision`.
"""

from __future__ import annotations

from dataclasses import dataclass

from redis.asyncio import Redis

from app.services.throttling.decisions import KEEP_DECISIONS, Decision, decisions_key
from app.services.throttling.scripting import LuaScript, server_now

SLOT_SECONDS = 60

# Compare-and-set on `changed_at`: of several workers deciding at once, only the first applies its change.
_APPLY = LuaScript("""
if (redis.call('HGET', KEYS[1], 'changed_at') or '') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'rate', ARGV[2], 'changed_at', ARGV[3])
redis.call('LPUSH', KEYS[2], ARGV[4])
redis.call('LTRIM', KEYS[2], 0, tonumber(ARGV[5]) - 1)
return 1
""")


@dataclass(frozen=True)
class AimdPolicy:
    ceiling: float
    floor: float = 10.0
    threshold: float = 0.05
    decrease: float = 0.5
    increase_fraction: float = 0.1
    window_seconds: int = 600
    min_samples: int = 50
    cooldown_seconds: int = 600

    @property
    def increase(self) -> float:
        return self.ceiling * self.increase_fraction


@dataclass(frozen=True)
class Outcomes:
    accepted: int = 0
    deferred: int = 0
    bounced: int = 0

    @property
    def total(self) -> int:
        return self.accepted + self.deferred + self.bounced

    @property
    def failure_rate(self) -> float:
        return (self.deferred + self.bounced) / self.total if self.total else 0.0


@dataclass(frozen=True)
class RateStep:
    rate: float
    reason: str


def aimd_step(rate: float, outcomes: Outcomes, policy: AimdPolicy) -> RateStep:
    """The next hourly rate from the current one and the outcomes seen in the window."""
    share = outcomes.failure_rate
    evidence = (f"{outcomes.deferred} deferred + {outcomes.bounced} bounced of {outcomes.total} "
                f"({share:.1%}) in {policy.window_seconds // 60} min")
    if outcomes.total >= policy.min_samples and share > policy.threshold:
        new_rate = max(policy.floor, rate * policy.decrease)
        if new_rate < rate:
            return RateStep(new_rate, f"{evidence}, above {policy.threshold:.1%}: cut to {new_rate:.0f}/h")
        return RateStep(rate, f"{evidence}, above {policy.threshold:.1%}: already at the floor")
    if outcomes.total and share <= policy.threshold and rate < policy.ceiling:
        new_rate = min(policy.ceiling, rate + policy.increase)
        return RateStep(new_rate, f"{evidence}, within {policy.threshold:.1%}: recover to {new_rate:.0f}/h")
    return RateStep(rate, f"{evidence}: hold at {rate:.0f}/h")


def _rate_key(server_id: int, group: str) -> str:
    return f"throttle:aimd:{server_id}:{group}"


def _slot_key(server_id: int, group: str, slot: int) -> str:
    return f"throttle:aimd:{server_id}:{group}:slot:{slot}"


async def record_outcomes(
    redis: Redis, server_id: int, group: str, outcomes: Outcomes, policy: AimdPolicy, now: float | None = None
) -> None:
    """Count one batch's results, from whichever worker sent it, into the current minute's slot."""
    slot = int(await server_now(redis, now) // SLOT_SECONDS)
    key = _slot_key(server_id, group, slot)
    async with redis.pipeline(transaction=False) as pipe:
        for name in ("accepted", "deferred", "bounced"):
            if count := getattr(outcomes, name):
                pipe.hincrby(key, name, count)
        pipe.expire(key, policy.window_seconds + SLOT_SECONDS)
        await pipe.execute()


async def window_outcomes(
    redis: Redis, server_id: int, group: str, policy: AimdPolicy, now: float | None = None
) -> Outcomes:
    last = int(await server_now(redis, now) // SLOT_SECONDS)
    first = last - policy.window_seconds // SLOT_SECONDS + 1
    async with redis.pipeline(transaction=False) as pipe:
        for slot in range(first, last + 1):
            pipe.hmget(_slot_key(server_id, group, slot), "accepted", "deferred", "bounced")
        slots = await pipe.execute()
    sums = [sum(int(row[i] or 0) for row in slots) for i in range(3)]
    return Outcomes(*sums)


def _clamp(stored: str | bytes | None, policy: AimdPolicy) -> float:
    # The policy may have been edited since the rate was stored: keep the rate inside it.
    rate = policy.ceiling if stored is None else float(stored)
    return min(policy.ceiling, max(policy.floor, rate))


async def current_rate(redis: Redis, server_id: int, group: str, policy: AimdPolicy) -> float:
    """The hourly rate to use for the (server, group) bucket now."""
    return _clamp(await redis.hget(_rate_key(server_id, group), "rate"), policy)


async def adjust_rate(
    redis: Redis, server_id: int, group: str, policy: AimdPolicy, now: float | None = None
) -> Decision | None:
    """Apply one AIMD step when the cool-down has passed; the decision when the rate changed, else None."""
    at = await server_now(redis, now)
    stored_rate, changed_at = await redis.hmget(_rate_key(server_id, group), "rate", "changed_at")
    if isinstance(changed_at, bytes):
        changed_at = changed_at.decode()
    if changed_at is not None and at - float(changed_at) < policy.cooldown_seconds:
        return None
    rate = _clamp(stored_rate, policy)
    step = aimd_step(rate, await window_outcomes(redis, server_id, group, policy, at), policy)
    if step.rate == rate:
        return None
    decision = Decision(at=at, server_id=server_id, kind="rate", subject=group,
                        old=f"{rate:.0f}/h", new=f"{step.rate:.0f}/h", reason=step.reason)
    applied = await _APPLY(
        redis,
        [_rate_key(server_id, group), decisions_key(server_id)],
        [changed_at or "", repr(step.rate), repr(at), decision.to_json(), KEEP_DECISIONS],
    )
    return decision if applied else None

