"""Login throttling (too many failures lock logins for a while) and signing a user out of every session."""

from __future__ import annotations

from dataclasses import dataclass

from redis.asyncio import Redis


@dataclass(frozen=True)
class LockoutPolicy:
    max_failures: int
    window_seconds: int


def _keys(email: str, ip: str) -> tuple[str, str]:
    return f"login:fail:email:{email.lower()}", f"login:fail:ip:{ip}"


async def is_locked(redis: Redis, policy: LockoutPolicy, email: str, ip: str) -> bool:
    by_email, by_ip = _keys(email, ip)
    email_count, ip_count = await redis.mget(by_email, by_ip)
    # An IP gets more room than an address: offices share one.
    return int(email_count or 0) >= policy.max_failures or int(ip_count or 0) >= policy.max_failures * 4


async def record_failure(redis: Redis, policy: LockoutPolicy, email: str, ip: str) -> None:
    async with redis.pipeline(transaction=True) as pipe:
        for key in _keys(email, ip):
            # A fixed window from the first failure (Redis 6 has no EXPIRE NX).
            pipe.set(key, 0, ex=policy.window_seconds, nx=True)
            pipe.incr(key)
        await pipe.execute()


async def clear_failures(redis: Redis, email: str, ip: str) -> None:
    await redis.delete(_keys(email, ip)[0])


def _signed_out_key(user_id: int) -> str:
    return f"user:{user_id}:signed_out_at"


async def sign_out_everywhere(redis: Redis, user_id: int, at: float) -> None:
    """Every session of the user that started before `at` stops working."""
    await redis.set(_signed_out_key(user_id), repr(at))


async def session_revoked(redis: Redis, user_id: int, signed_in_at: float) -> bool:
    cutoff = await redis.get(_signed_out_key(user_id))
    return cutoff is not None and signed_in_at <= float(cutoff)
