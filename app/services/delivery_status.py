"""What the Delivery pages show per server: its effective daily cap, tokens left, rates, warm-up, circuit,
recent decisions, and the last connection test."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from redis.asyncio import Redis

from app.services.delivery_servers import servers
from app.services.routing import BREAKER, DailyCap, daily_cap, quota_buckets
from app.services.throttling import (
    BreakerStatus,
    Decision,
    breaker_status,
    recent_decisions,
    tokens_left,
)
from app.services.warmup_plans import plans_by_id


@dataclass(frozen=True)
class ServerStatus:
    server: dict
    left_hour: int | None
    left_day: int | None
    warmup_cap: int | None
    # What routing lets the server send today: the smaller of its daily quota and today's warm-up cap.
    day_cap: DailyCap | None
    breaker: BreakerStatus
    decisions: list[Decision]

    @property
    def last_test_failed(self) -> bool:
        return self.server["last_check_ok"] is False


async def server_status(redis: Redis, server: dict, plans: Mapping[int, dict]) -> ServerStatus:
    buckets, cap = quota_buckets(server, plans)
    left = await tokens_left(redis, buckets) if buckets else {}
    by_period = {key.rsplit(":", 1)[1]: value for key, value in left.items()}
    return ServerStatus(
        server=server, left_hour=by_period.get("hour"), left_day=by_period.get("day"), warmup_cap=cap,
        day_cap=daily_cap(server, plans), breaker=await breaker_status(redis, server["id"], BREAKER),
        decisions=await recent_decisions(redis, server["id"], limit=5),
    )


async def server_statuses(redis: Redis, workspace_id: int) -> list[ServerStatus]:
    """Every server of the workspace with its status, by name."""
    plans = await plans_by_id(workspace_id)
    return [await server_status(redis, server, plans) for server in await servers(workspace_id)]
