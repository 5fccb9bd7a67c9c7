"""What the live Delivery page shows per server: tokens left, rates, warm-up, circuit, recent decisions."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from redis.asyncio import Redis

from app.services.routing import BREAKER, quota_buckets
from app.services.throttling import (
    BreakerStatus,
    Decision,
    breaker_status,
    recent_decisions,
    tokens_left,
)


@dataclass(frozen=True)
class ServerStatus:
    server: dict
    left_hour: int | None
    left_day: int | None
    warmup_cap: int | None
    breaker: BreakerStatus
    decisions: list[Decision]


async def server_status(redis: Redis, server: dict, plans: Mapping[int, dict]) -> ServerStatus:
    buckets, cap = quota_buckets(server, plans)
    left = await tokens_left(redis, buckets) if buckets else {}
    by_period = {key.rsplit(":", 1)[1]: value for key, value in left.items()}
    return ServerStatus(
        server=server, left_hour=by_period.get("hour"), left_day=by_period.get("day"), warmup_cap=cap,
        breaker=await breaker_status(redis, server["id"], BREAKER),
        decisions=await recent_decisions(redis, server["id"], limit=5),
    )
