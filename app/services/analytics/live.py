"""Where money news is announced, so today's P&L on every open screen moves when a postback lands."""

from __future__ import annotations

from redis.asyncio import Redis


def revenue_channel(workspace_id: int) -> str:
    return f"ignite:revenue:{workspace_id}"


async def announce_revenue(redis: Redis, workspace_id: int) -> None:
    """Tell the workspace's open P&L pages that revenue changed; they re-read their figures."""
    await redis.publish(revenue_channel(workspace_id), "changed")
