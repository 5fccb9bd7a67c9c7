"""Failed sign-ins slow the guesser down without locking the owner out; signing out of every session.

Failures are counted three ways, each forgotten an hour after the last one: one account from one client
address, one account from anywhere, one address against any account. Past a number of free failures,
each further failure makes the next attempt wait longer (15 s, 30 s, 60 s ...) up to a ceiling. The pair
(account, address) has the fewest free failures and the highest ceiling, so a guesser is slowed most; the
account as a whole and the address as a whole have more room and a ceiling of a minute, so someone
guessing at the owner's password from elsewhere, or colleagues failing behind one office address, cost
the owner or a colleague at most a short wait, never a lock-out.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

from redis.asyncio import Redis

from app.services.accounts import AccountError, authenticate
from app.services.public_limits import RateLimited, wait_phrase

FORGET_AFTER = 3600
FIRST_DELAY = 15
WIDE_CEILING = 60
NO_MATCH = "That email and password do not match an account."


@dataclass(frozen=True)
class LockoutPolicy:
    # Free failures of one account from one address (LOGIN_MAX_FAILURES); the account and the address as
    # a whole get four and ten times as many.
    max_failures: int
    # The longest wait for one account from one address, in seconds (LOGIN_LOCKOUT_SECONDS).
    longest_delay: int


@dataclass(frozen=True)
class _Counter:
    key: str
    free: int
    ceiling: int


def _digest(value: str) -> str:
    return hashlib.sha256(value.strip().lower().encode()).hexdigest()[:32]


def _counters(policy: LockoutPolicy, email: str, ip: str) -> tuple[_Counter, _Counter, _Counter]:
    account, address = _digest(email), _digest(ip)
    wide = min(WIDE_CEILING, policy.longest_delay)
    return (
        _Counter(f"login:fail:pair:{account}:{address}", policy.max_failures, policy.longest_delay),
        _Counter(f"login:fail:account:{account}", policy.max_failures * 4, wide),
        _Counter(f"login:fail:address:{address}", policy.max_failures * 10, wide),
    )


def delay_after(failures: int, free: int, ceiling: int) -> float:
    """Seconds the next attempt waits after `failures` failures: none while free, then doubling to the ceiling."""
    if failures < free:
        return 0
    return min(ceiling, FIRST_DELAY * 2 ** min(failures - free, 30))


async def delay_left(redis: Redis, policy: LockoutPolicy, email: str, ip: str, now: float) -> float:
    """Seconds until this account may be tried again from this address (0: now)."""
    counters = _counters(policy, email, ip)
    async with redis.pipeline(transaction=False) as pipe:
        for counter in counters:
            pipe.hmget(counter.key, "failures", "last")
        states = await pipe.execute()
    waits = [float(last) + delay_after(int(failures), counter.free, counter.ceiling) - now
             for counter, (failures, last) in zip(counters, states, strict=True) if failures is not None]
    return max([0.0, *waits])


async def record_failure(redis: Redis, policy: LockoutPolicy, email: str, ip: str, now: float) -> None:
    async with redis.pipeline(transaction=True) as pipe:
        for counter in _counters(policy, email, ip):
            pipe.hincrby(counter.key, "failures", 1)
            pipe.hset(counter.key, "last", repr(now))
            pipe.expire(counter.key, FORGET_AFTER)
        await pipe.execute()


async def clear_failures(redis: Redis, policy: LockoutPolicy, email: str, ip: str) -> None:
    """After a success: the account is trusted again; the address keeps its count (it may be guessing wide)."""
    pair, account, _ = _counters(policy, email, ip)
    await redis.delete(pair.key, account.key)


async def authenticated_user(redis: Redis, policy: LockoutPolicy, email: str, password: str, ip: str,
                             now: float) -> dict:
    """The user with these credentials. RateLimited while a delay runs (the password is not even tried),
    AccountError when they do not match."""
    wait = await delay_left(redis, policy, email, ip, now)
    if wait > 0:
        seconds = math.ceil(wait)
        raise RateLimited(seconds, f"Too many failed sign-ins. Try again in {wait_phrase(seconds)}, "
                                   "or reset your password.")
    user = await authenticate(email, password)
    if user is None:
        await record_failure(redis, policy, email, ip, now)
        raise AccountError(NO_MATCH)
    await clear_failures(redis, policy, email, ip)
    return user


def _signed_out_key(user_id: int) -> str:
    return f"user:{user_id}:signed_out_at"


async def sign_out_everywhere(redis: Redis, user_id: int, at: float) -> None:
    """Every session of the user that started before `at` stops working; one started at `at` goes on
    (the session that changed the password is renewed with exactly that time)."""
    await redis.set(_signed_out_key(user_id), repr(at))


async def session_revoked(redis: Redis, user_id: int, signed_in_at: float) -> bool:
    cutoff = await redis.get(_signed_out_key(user_id))
    return cutoff is not None and signed_in_at < float(cutoff)
