"""A campaign's speed limit: at most `speed_per_hour` messages an hour, across every send worker.

One Redis token bucket per campaign (the throttling package's), holding at
most a minute's worth, so the limit is kept over any stretch of time and a
paused or slow campaign cannot save up a burst. A batch takes one token per
message; the messages it gets none for wait, without spending an attempt,
each a little after the one before, so they come due at the rate the limit
allows instead of all at once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis

from app.services.campaigns import counters
from app.services.throttling import HOUR, Bucket, acquire_many


@dataclass(frozen=True)
class Allowance:
    """Which of a batch's messages may go now, and how long each of the others waits."""

    now: list[int]
    later: dict[int, float]


def speed_bucket(campaign: Mapping[str, Any]) -> Bucket | None:
    per_hour = campaign.get("speed_per_hour")
    if not per_hour:
        return None
    return Bucket(counters.key(campaign["id"], "speed"), limit=per_hour, period=HOUR, burst=max(1.0, per_hour / 60))


async def allowance(redis: Redis, campaign: Mapping[str, Any], keys: Sequence[int],
                    now: float | None = None) -> Allowance:
    """Tokens for the messages `keys`, in order; without a speed limit every one may go."""
    bucket = speed_bucket(campaign)
    if bucket is None or not keys:
        return Allowance(list(keys), {})
    grants = await acquire_many(redis, [([bucket], 1)] * len(keys), now)
    interval = HOUR / bucket.limit
    allowed, later = [], {}
    for key, grant in zip(keys, grants, strict=True):
        if grant.granted:
            allowed.append(key)
        else:
            later[key] = grant.retry_after + len(later) * interval
    return Allowance(allowed, later)
