"""The live activity feed of a workspace, carried by Redis pub/sub.

Entries are audit rows (app/services/audit.py) and, from the tracking aggregator, one summary per
campaign per batch (`engagement_entry`): action `campaign.engagement`, the campaign's name and what the
batch added, in words ("12 opens, 3 clicks") and as counts.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from app.services.live import followed

ENGAGEMENT = "campaign.engagement"
# Tracking summaries kept for a feed's first load: more than any page shows.
KEPT = 20
# The batch's counts a summary names, in this order, as (singular, plural).
ENGAGEMENT_WORDS = {
    "opens": ("open", "opens"), "clicks": ("click", "clicks"), "machine_opens": ("machine open", "machine opens"),
    "bot_clicks": ("bot click", "bot clicks"), "web_views": ("web view", "web views"),
}


def channel(workspace_id: int) -> str:
    return f"activity:{workspace_id}"


async def publish(redis: Redis, workspace_id: int, event: dict[str, Any]) -> None:
    await redis.publish(channel(workspace_id), json.dumps(event, default=str))


def kept_key(workspace_id: int) -> str:
    return f"activity:kept:{workspace_id}"


def queue_publish(pipeline: Pipeline, workspace_id: int, event: dict[str, Any]) -> None:
    """`publish` as more commands of a pipeline, sent with the rest of it. Tracking summaries are no audit
    rows, so the newest few are also kept in a capped list for the feed's first load (`kept`)."""
    payload = json.dumps(event, default=str)
    pipeline.publish(channel(workspace_id), payload)
    pipeline.lpush(kept_key(workspace_id), payload)
    pipeline.ltrim(kept_key(workspace_id), 0, KEPT - 1)


async def kept(redis: Redis, workspace_id: int) -> list[dict[str, Any]]:
    """The newest tracking summaries of the workspace, newest first."""
    return [json.loads(payload) for payload in await redis.lrange(kept_key(workspace_id), 0, KEPT - 1)]


def engagement_words(counts: Mapping[str, int]) -> str:
    """"12 opens, 3 clicks, 1 bot click": the non-zero counts, in a fixed order."""
    return ", ".join(f"{counts[name]} {one if counts[name] == 1 else many}"
                     for name, (one, many) in ENGAGEMENT_WORDS.items() if counts.get(name))


def engagement_entry(campaign: Mapping[str, Any], now: datetime | None = None) -> dict[str, Any] | None:
    """The feed's summary of what one batch added to a campaign, None when it added nothing to name."""
    added = {name: int(campaign["batch"].get(name) or 0) for name in ENGAGEMENT_WORDS}
    summary = engagement_words(added)
    if not summary:
        return None
    return {"workspace_id": campaign["workspace_id"], "user_id": None, "actor": "Tracking", "action": ENGAGEMENT,
            "target_type": "campaign", "target_id": str(campaign["campaign_id"]),
            "details": {"name": campaign["name"], "summary": summary, **added},
            "created_at": (now or datetime.now(UTC)).isoformat()}


async def follow(redis: Redis, workspace_id: int, idle_seconds: float = 15.0) -> AsyncIterator[dict[str, Any] | None]:
    """Events as they are published; None after each quiet spell so callers can send a keep-alive."""
    async for message in followed(redis, channel(workspace_id), idle_seconds):
        yield json.loads(message) if message else None
