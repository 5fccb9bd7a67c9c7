"""A campaign's engagement figures and click map, live over Server-Sent Events for as long as the page is open.

Opens, clicks, unsubscribes and conversions keep arriving for days after the last message is sent, so this
stream stays open when the send stream (app/routes/campaigns.py) has said `done`. Each look costs a read
of the Redis hash the writers raise and of the campaign row; the click map, a grouped read of the click
events, is read again only when the click figures have moved, and at most every CLICK_MAP_SECONDS.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from litestar import Controller, Request, get
from litestar.response import ServerSentEvent, ServerSentEventMessage, Template
from redis.asyncio import Redis

from app.routes.campaign_pages import (
    CONVERSION_ROWS,
    ENGAGEMENT,
    engagement_context,
    latest_conversions,
    older_than_shown,
)
from app.services import campaigns
from app.services.campaigns.click_map import click_map
from app.services.tracking.conversions import campaign_conversions
from app.web.auth import signed_in

CONVERSIONS_PAGE = 50
SSE_HEADERS = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
LOOK_EVERY_SECONDS = 1.0
REREAD_SECONDS = 5.0
# A quiet stream still says something this often, so proxies keep it open.
KEEP_ALIVE_SECONDS = 15.0


@dataclass
class _Reread:
    """A costly part of the section (click map, conversions), read again only when the figures it follows
    have moved, and at most every REREAD_SECONDS."""

    read: Callable[[], Awaitable[list]]
    follows: tuple[str, ...]
    rows: list | None = None
    seen: tuple | None = None
    read_at: float = -REREAD_SECONDS

    async def current(self, figures: Mapping[str, object]) -> list:
        moved = tuple(figures[name] for name in self.follows)
        if self.rows is None or (moved != self.seen and time.monotonic() - self.read_at >= REREAD_SECONDS):
            self.rows, self.seen, self.read_at = await self.read(), moved, time.monotonic()
        return self.rows


async def engagement_messages(redis: Redis, workspace_id: int, campaign_id: int, section: Any,
                              pause: Callable[[float], Awaitable[object]] = asyncio.sleep,
                              ) -> AsyncIterator[ServerSentEventMessage]:
    """The engagement section each time it changes (first as it stands), a keep-alive comment when quiet."""
    links = _Reread(lambda: click_map(workspace_id, campaign_id), ("clicks", "bot_clicks"))
    sales = _Reread(lambda: latest_conversions(workspace_id, campaign_id), ("conversions",))
    shown, quiet_since = None, time.monotonic()
    while True:
        campaign = await campaigns.get_campaign(workspace_id, campaign_id)
        context = await engagement_context(redis, campaign, links=[], conversions=[])
        figures = context["engagement"].figures
        latest = await sales.current(figures)
        context.update(click_map=await links.current(figures), conversions=latest, older=older_than_shown(latest))
        rendered = section.render(**context)
        if rendered != shown:
            shown, quiet_since = rendered, time.monotonic()
            yield ServerSentEventMessage(event="engagement", data=rendered)
        elif time.monotonic() - quiet_since > KEEP_ALIVE_SECONDS:
            quiet_since = time.monotonic()
            yield ServerSentEventMessage(comment="keep-alive")
        await pause(LOOK_EVERY_SECONDS)


class CampaignEngagementController(Controller):
    path = "/mailing/campaigns"
    guards = [signed_in]
    include_in_schema = False

    @get("/{campaign_id:int}/engagement", name="campaign_engagement")
    async def figures(self, workspace_id: int, campaign_id: int, redis: Redis) -> Template:
        """The engagement section alone, as the page shows it."""
        campaign = await campaigns.get_campaign(workspace_id, campaign_id)
        return Template(ENGAGEMENT, context=await engagement_context(redis, campaign))

    @get("/{campaign_id:int}/engagement/events", name="campaign_engagement_events")
    async def events(self, request: Request, workspace_id: int, campaign_id: int, redis: Redis) -> ServerSentEvent:
        """Figures and click map over Server-Sent Events for as long as the page stays open."""
        await campaigns.get_campaign(workspace_id, campaign_id)
        section = request.app.template_engine.get_template(ENGAGEMENT)
        return ServerSentEvent(engagement_messages(redis, workspace_id, campaign_id, section), headers=SSE_HEADERS)

    @get("/{campaign_id:int}/conversions", name="campaign_conversions")
    async def conversions(self, workspace_id: int, campaign_id: int, before: int | None = None) -> Template:
        """Older conversions, appended below the ones the page shows."""
        rows = await campaign_conversions(workspace_id, campaign_id, before=before, limit=CONVERSIONS_PAGE)
        return Template(CONVERSION_ROWS, context={"conversions": rows, "campaign": {"id": campaign_id},
                                                  "older": older_than_shown(rows, CONVERSIONS_PAGE)})
