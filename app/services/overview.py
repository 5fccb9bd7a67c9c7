"""The Mailing overview: audience, growth, delivery servers' health and quota, one query per panel.

This page is the most visited of the portal, so it reads what is already kept up to date: the list
counters (maintained by triggers), the daily join/leave statistics and the throttling state in Redis.
It never counts subscribers.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta

from redis.asyncio import Redis

from app.services.accounts import now
from app.services.lists import GrowthPoint
from app.services.routing import BREAKER, quota_buckets
from app.services.sqlparams import Params, fetch
from app.services.suppression.mailable import blacklisted_ids_sql
from app.services.tenancy import checked_workspace_id
from app.services.throttling import BreakerStatus, breaker_status, tokens_left

GROWTH_DAYS = 30


@dataclass(frozen=True)
class Audience:
    """Subscriptions on the workspace's active lists; a person on two lists counts on each."""

    lists: int
    subscribers: int
    mailable: int
    unconfirmed: int
    unsubscribed: int
    bounced: int
    complained: int
    blacklisted: int


@dataclass(frozen=True)
class ServerHealth:
    id: int
    name: str
    kind: str
    status: str
    status_reason: str
    breaker: BreakerStatus
    last_check_ok: bool | None
    last_check_at: datetime | None
    last_check_detail: str
    daily_cap: int | None
    warmup_cap: int | None
    warmup_day: int
    used_today: int | None

    @property
    def used_percent(self) -> int:
        if not self.daily_cap or self.used_today is None:
            return 0
        return min(100, round(100 * self.used_today / self.daily_cap))

    @property
    def problem(self) -> str:
        """Why the server is not sending normally, or empty when it is."""
        if self.status in ("paused", "disabled"):
            return f"{self.status}{': ' + self.status_reason if self.status_reason else ''}"
        if not self.breaker.allowed or self.status == "circuit_open":
            return f"circuit {self.breaker.state.value.replace('_', ' ')}: {self.breaker.reason or self.status_reason}"
        if self.last_check_ok is False:
            return f"last connection test failed: {self.last_check_detail}"
        if self.daily_cap and self.used_today is not None and self.used_today >= self.daily_cap:
            return "today's cap is reached"
        return ""


async def audience(workspace_id: int) -> Audience:
    """Totals of the active (not archived) lists' counters."""
    params = Params()
    rows = await fetch(
        "SELECT count(l.id) AS lists, coalesce(sum(c.total), 0) AS subscribers, "
        "coalesce(sum(c.confirmed), 0) AS mailable, coalesce(sum(c.unconfirmed), 0) AS unconfirmed, "
        "coalesce(sum(c.unsubscribed), 0) AS unsubscribed, coalesce(sum(c.bounced), 0) AS bounced, "
        "coalesce(sum(c.complained), 0) AS complained, coalesce(sum(c.blacklisted), 0) AS blacklisted "
        "FROM lists l LEFT JOIN list_counters c ON c.list_id = l.id "
        f"WHERE l.workspace_id = {params.add(checked_workspace_id(workspace_id))} AND l.archived_at IS NULL",
        params,
    )
    totals = {key: int(value) for key, value in rows[0].items()}
    matched = await _blacklisted_by_rule(workspace_id)
    totals["blacklisted"] += matched["blacklisted"]
    totals["mailable"] -= matched["confirmed"]
    return Audience(**totals)


async def _blacklisted_by_rule(workspace_id: int) -> dict[str, int]:
    """Subscribers of active lists the blacklist matches though their status does not say so (the counters
    count statuses), and how many of them are confirmed: the list page and profiles count them the same way."""
    params = Params()
    matched = await blacklisted_ids_sql(params, workspace_id, other_statuses_only=True)
    if not matched:
        return {"blacklisted": 0, "confirmed": 0}
    rows = await fetch(
        "SELECT count(*) AS blacklisted, count(*) FILTER (WHERE s.status = 'confirmed') AS confirmed "
        "FROM subscribers s JOIN lists l ON l.id = s.list_id AND l.archived_at IS NULL "
        f"WHERE s.id IN ({matched})",
        params,
    )
    return {key: int(value) for key, value in rows[0].items()}


async def growth(workspace_id: int, days: int = GROWTH_DAYS) -> list[GrowthPoint]:
    """Joins and leaves per day over all lists for the last `days` days (UTC), zero-filled, oldest first."""
    today = now().date()
    first = today - timedelta(days=days - 1)
    params = Params()
    rows = await fetch(
        "SELECT d.day, sum(d.joined) AS joined, sum(d.left_list) AS left_list "
        "FROM lists l JOIN list_daily_stats d ON d.list_id = l.id "
        f"WHERE l.workspace_id = {params.add(checked_workspace_id(workspace_id))} "
        f"AND d.day >= {params.add(first)} GROUP BY d.day",
        params,
    )
    by_day = {row["day"]: row for row in rows}
    points = []
    for offset in range(days):
        day = first + timedelta(days=offset)
        row = by_day.get(day)
        points.append(GrowthPoint(day, int(row["joined"]) if row else 0, int(row["left_list"]) if row else 0))
    return points


# Only what health and quotas need: never the sealed credentials.
_SERVERS = """
SELECT s.id, s.name, s.kind, s.status, s.status_reason, s.per_second, s.hourly_quota, s.daily_quota,
       s.monthly_quota, s.warmup_plan_id, s.warmup_day, s.warmup_override_cap, s.warmup_last_decided_on,
       s.warmup_held_days, s.last_check_ok, s.last_check_at, s.last_check_detail,
       p.name AS plan_name, p.daily_caps AS plan_caps
FROM delivery_servers s
LEFT JOIN warmup_plans p ON p.id = s.warmup_plan_id AND p.workspace_id = s.workspace_id
WHERE s.workspace_id = {workspace}
ORDER BY s.name
"""


async def servers(redis: Redis, workspace_id: int) -> list[ServerHealth]:
    """Every delivery server with its health and today's use of its effective daily cap.

    The cap is the day bucket routing enforces (the server's daily quota, lowered by today's warm-up
    cap); what is used is what that bucket has given out and not yet refilled. All buckets are read
    in one Redis round trip; the circuit breakers are asked together.
    """
    params = Params()
    rows = await fetch(_SERVERS.format(workspace=params.add(checked_workspace_id(workspace_id))), params)
    plans = {row["warmup_plan_id"]: {"name": row["plan_name"], "daily_caps": row["plan_caps"]}
             for row in rows if row["plan_name"] is not None}
    quotas = {row["id"]: quota_buckets(row, plans) for row in rows}
    day_buckets = {server_id: next((b for b in buckets if b.key.endswith(":day")), None)
                   for server_id, (buckets, _) in quotas.items()}
    left = await tokens_left(redis, [bucket for bucket in day_buckets.values() if bucket is not None])
    breakers = await asyncio.gather(*(breaker_status(redis, row["id"], BREAKER) for row in rows))
    result = []
    for row, breaker in zip(rows, breakers, strict=True):
        day = day_buckets[row["id"]]
        cap = int(day.limit) if day else None
        result.append(ServerHealth(
            id=row["id"], name=row["name"], kind=row["kind"], status=row["status"],
            status_reason=row["status_reason"], breaker=breaker, last_check_ok=row["last_check_ok"],
            last_check_at=row["last_check_at"], last_check_detail=row["last_check_detail"], daily_cap=cap,
            warmup_cap=quotas[row["id"]][1], warmup_day=row["warmup_day"],
            used_today=max(0, cap - left[day.key]) if day and cap is not None else None,
        ))
    return result
