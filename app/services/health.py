"""Is the platform able to work: PostgreSQL, Redis, and live workers."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from redis.asyncio import Redis

from app.db.accounts import Workspace

HEARTBEAT_PREFIX = "ignite:worker:"


async def database_status() -> dict[str, Any]:
    try:
        await asyncio.wait_for(Workspace.raw("SELECT 1").run(), timeout=3)
    except Exception as exc:  # any failure means "down"; the reason goes into the report
        return {"ok": False, "error": exc.__class__.__name__}
    return {"ok": True}


async def redis_status(redis: Redis) -> dict[str, Any]:
    try:
        await asyncio.wait_for(redis.ping(), timeout=3)
    except Exception as exc:
        return {"ok": False, "error": exc.__class__.__name__}
    return {"ok": True}


async def live_workers(redis: Redis) -> list[dict[str, Any]]:
    """Workers whose heartbeat key has not expired."""
    keys = [key async for key in redis.scan_iter(match=f"{HEARTBEAT_PREFIX}*", count=500)]
    if not keys:
        return []
    values = await redis.mget(keys)
    return [json.loads(value) for value in values if value]


async def health_report(redis: Redis) -> dict[str, Any]:
    database, cache = await asyncio.gather(database_status(), redis_status(redis))
    workers = await live_workers(redis) if cache["ok"] else []
    if not (database["ok"] and cache["ok"]):
        status = "down"
    elif not workers:
        status = "degraded"
    else:
        status = "ok"
    return {
        "status": status,
        "postgres": database,
        "redis": cache,
        "workers": {"ok": bool(workers), "count": len(workers), "processes": workers},
    }


def public_health(report: dict[str, Any]) -> dict[str, str]:
    """What anyone may learn: working or not. Host names, pids and the reasons stay with operators."""
    return {"status": "ok" if report["status"] == "ok" else "degraded"}
