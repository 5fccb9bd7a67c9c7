"""What the campaign pages show: live figures (from the counters, never a count of deliveries), engagement
figures with their rates, and the send log."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from redis.asyncio import Redis

from app.db.campaigns import Delivery
from app.services import statements
from app.services.campaigns import counters
from app.services.campaigns.drafts import get_campaign
from app.services.tenancy import owned_by
from app.services.tracking.figures import campaign_figures

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


@dataclass(frozen=True)
class Engagement:
    """A campaign's engagement figures and, against the messages delivered, its rates (None before any)."""

    figures: Mapping[str, int | Decimal]
    delivered: int

    def rate(self, name: str) -> float | None:
        """Figure `name` as a percentage of the messages delivered."""
        return _percent(self.figures[name], self.delivered)

    @property
    def click_to_open(self) -> float | None:
        """Of the people who opened, the share who clicked (machine opens and bot clicks left out)."""
        return _percent(self.figures["unique_clicks"], self.figures["unique_opens"])

    @property
    def revenue_per_thousand(self) -> Decimal | None:
        """Revenue per thousand messages delivered: how affiliate senders compare campaigns of any size."""
        if not self.delivered:
            return None
        return (Decimal(self.figures["revenue"]) * 1000 / self.delivered).quantize(Decimal("0.01"))


def _percent(part: int | Decimal, whole: int | Decimal) -> float | None:
    return round(100 * float(part) / float(whole), 1) if whole else None


async def engagement(redis: Redis, campaign: Mapping[str, Any], delivered: int) -> Engagement:
    """Opens, clicks, robots, web views, unsubscribes, conversions and revenue as they stand now."""
    return Engagement(await campaign_figures(redis, campaign["workspace_id"], campaign["id"]), delivered)


def _escaped(text: str) -> str:
    """`text` for a LIKE pattern, its own % and _ matched as themselves."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


async def delivery_log(workspace_id: int, campaign_id: int, email: str = "", status: str = "",
                       before_id: int | None = None, limit: int = LOG_PAGE) -> list[dict]:
    """The campaign's deliveries, newest first, with each one's last server answer.

    `email` finds a whole address through the unique index; any part of one ("ana@", "@gmail.com", or a
    whole address that is not there) is matched while walking the campaign's deliveries newest first until
    a page is full."""
    await get_campaign(workspace_id, campaign_id)

    async def page(*conditions: Any) -> list[dict]:
        # Piccolo's where() adds to the query it is called on: each search builds its own.
        query = Delivery.select(*LOG_COLUMNS).where(owned_by(Delivery, workspace_id),
                                                    Delivery.campaign_id == campaign_id, *conditions)
        if status:
            query = query.where(Delivery.status == status)
        if before_id is not None:
            query = query.where(Delivery.id < before_id)
        return await query.order_by(Delivery.id, ascending=False).limit(limit)

    wanted = email.strip().lower()
    if not wanted:
        return await _with_bounces(workspace_id, await page())
    found = await page(Delivery.email == wanted) if "@" in wanted.strip("@") else []
    return await _with_bounces(workspace_id, found or await page(Delivery.email.like(f"%{_escaped(wanted)}%")))


async def _with_bounces(workspace_id: int, rows: list[dict]) -> list[dict]:
    """Each delivery with the category of the latest bounce or complaint about it (`bounce`, None if none):
    a message the server accepted may still bounce days later."""
    found = {row["delivery_id"]: row["category"] for row in await statements.run(
        "bounces.of-deliveries", workspace_id, [row["id"] for row in rows])} if rows else {}
    return [{**row, "bounce": found.get(row["id"])} for row in rows]
