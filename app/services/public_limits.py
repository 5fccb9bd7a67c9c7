"""Rate limits on the public endpoints that send mail or write, per client address and per email address.

They are token buckets in Redis (app/services/throttling): a burst up to the limit passes, then requests
are let through at the limit's pace. A refused request raises `RateLimited`, which says how long to wait;
the web layer answers 429 with Retry-After and shows the message on the form.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

from redis.asyncio import Redis

from app.services.throttling import HOUR, MINUTE, Bucket, acquire


@dataclass(frozen=True)
class Rate:
    limit: int
    period: int


@dataclass(frozen=True)
class Limit:
    name: str
    per_ip: Rate | None = None
    # Per email address (or per invitation, per mailed link): what one person can be sent, or one target tried.
    per_address: Rate | None = None


# A subscribe form may be busy behind one office address, but forty confirmations a second is a bot.
SUBSCRIBE = Limit("subscribe", per_ip=Rate(10, MINUTE), per_address=Rate(3, HOUR))
# Links in mail (confirm, unsubscribe): a forged one is someone probing, counted per client address; a
# genuine one is used by its recipient and their mail provider, whose one-click unsubscribes all come from
# a few addresses, so it is counted per link.
FORGED_LINK = Limit("forged-link", per_ip=Rate(30, MINUTE))
MAILED_LINK = Limit("mailed-link", per_address=Rate(10, HOUR))
FORGOT_PASSWORD = Limit("forgot", per_ip=Rate(10, HOUR), per_address=Rate(3, HOUR))
RESET_PASSWORD = Limit("reset", per_ip=Rate(20, HOUR))
# Per account, failed sign-ins are slowed by growing delays instead (app/services/lockout.py).
LOGIN = Limit("login", per_ip=Rate(30, MINUTE))
# An invitation to an existing user asks for that user's password: a guessing target.
ACCEPT_INVITE = Limit("invite", per_ip=Rate(20, HOUR), per_address=Rate(5, HOUR))


class RateLimited(Exception):
    """Too many requests; `retry_after` is the whole number of seconds until the next one may pass."""

    def __init__(self, retry_after: float, message: str = "") -> None:
        self.retry_after = max(1, math.ceil(retry_after))
        self.message = message or f"Too many attempts. Try again in {wait_phrase(self.retry_after)}."
        super().__init__(self.message)


def wait_phrase(seconds: int) -> str:
    if seconds < 90:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    if seconds < 90 * 60:
        return f"{math.ceil(seconds / 60)} minutes"
    return f"{math.ceil(seconds / 3600)} hours"


def _key(value: str) -> str:
    # Addresses are personal data: keys carry a digest, never the address itself.
    return hashlib.sha256(value.strip().lower().encode()).hexdigest()[:32]


def buckets_for(limit: Limit, ip: str, address: str = "") -> list[Bucket]:
    buckets = []
    if limit.per_ip:
        buckets.append(Bucket(f"public:{limit.name}:ip:{_key(ip)}", limit.per_ip.limit, limit.per_ip.period))
    if limit.per_address and address.strip():
        buckets.append(Bucket(f"public:{limit.name}:address:{_key(address)}", limit.per_address.limit,
                              limit.per_address.period))
    return buckets


async def admit(redis: Redis, limit: Limit, ip: str = "", address: str = "") -> None:
    """Count one request against the client address and the email address; RateLimited when over."""
    buckets = buckets_for(limit, ip, address)
    grant = await acquire(redis, buckets) if buckets else None
    if grant is not None and not grant.granted:
        raise RateLimited(grant.retry_after)
