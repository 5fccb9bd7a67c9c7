"""What the campaign pages show: live figures (from the counters, never a count of deliveries) and the send log."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from redis.asyncio import Redis

from app.db.campaigns import Delivery
from app.services.campaigns import counters
from app.services.campaigns.drafts import get_campaign
from app.services.tenancy import owned_by

LOG_PAGE = 50
LOG_COLUMNS = (Delivery.id, Delivery.email, Delivery.status, Delivery.server_id, Delivery.domain_group,
               Delivery.attempts, Delivery.last_answer, Delivery.provider_message_id, Delivery.next_attempt_at,
               Delivery.sent_at, Delivery.updated_at)


async def live_figures(redis: Redis, campaign: Mapping[str, Any]) -> dict[str, Any]:
    """Recipients, sent, failed, skipped, deferrals and still waiting, with breakdowns by server and domain
    group: the Redis counters while the campaign sends (fresher than the row), the row otherwise."""
    raw = await redis.hgetall(counters.key(campaign["id"], "counters"))
    fields = {counters.text(name): int(value) for name, value in raw.items()}
    figures = {name: max(fields.get(name, 0), campaign[f"{name}_count"]) for name in counters.TOTALS}
    recipients = campaign["recipient_count"]
    figures.update(recipients=recipients, waiting=max(0, recipients - figures["sent"] - figures["failed"]
                                                          - figures["skipped"]),
                   breakdown=counters.breakdown(fields) if fields else campaign["breakdown"])
    return figures


async def delivery_log(workspace_id: int, campaign_id: int, email: str = "", status: str = "",
                       before_id: int | None = None, limit: int = LOG_PAGE) -> list[dict]:
    """The campaign's deliveries, newest first, with each one's last server answer; `email` finds one address."""
    await get_campaign(workspace_id, campaign_id)
    query = Delivery.select(*LOG_COLUMNS).where(owned_by(Delivery, workspace_id), Delivery.campaign_id == campaign_id)
    if email:
        query = query.where(Delivery.email == email.strip().lower())
    if status:
        query = query.where(Delivery.status == status)
    if before_id is not None:
        query = query.where(Delivery.id < before_id)
    return await query.order_by(Delivery.id, ascending=False).limit(limit)
