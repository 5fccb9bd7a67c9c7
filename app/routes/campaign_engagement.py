"""A campaign's engagement figures and click map, live over Server-Sent Events for as long as the page is open.

Opens, clicks, unsubscribes and conversions keep arriving for days after the last message is sent, so this
stream stays open when the send stream (app/routes/campaigns.py) has said `done`. Each look costs a read
of the Redis hash the writers raise and of the campaign row; the click map, a grouped read of the click
events, is read again only when the click figures have moved, and at most every CLICK_MAP_SECONDS.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from litestar import Controller, Request, get
from litestar.response import ServerSentEvent, ServerSentEventMessage, Template
from redis.asyncio import Redis

from app.routes.campaign_pages import ENGAGEMENT, engagement_context
from app.services import campaigns
from app.services.campaigns.click_map import click_map
from app.web.auth import signed_in

SSE_HEADERS = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
LOOK_EVERY_SECONDS = 1.0
CLICK_MAP_SECONDS = 5.0
# A quiet stream still says something this often, so proxies keep it open.
KEEP_ALIVE_SECONDS = 15.0


def _click_figures(context: dict) -> tuple[int, int]:
    figures = context["engagement"].figures
    return figures["clicks"], figures["bot_clicks"]


async def engagement_messages(redis: Redis, workspace_id: int, campaign_id: int, section: Any,
                              pause: Callable[[float], Awaitable[object]] = asyncio.sleep,
                              ) -> AsyncIterator[ServerSentEventMessage]:
    """The engagement section each time it changes (first as it stands), a keep-alive comment when quiet."""
    shown, links, links_for, links_read = None, None, None, 0.0
    quiet_since = time.monotonic()
    while True:
        campaign = await campaigns.get_campaign(workspace_id, campaign_id)
        context = await engagement_context(redis, campaign, links if links is not None else [])
        clicked = _click_figures(context)
        if clicked != links_for and time.monotonic() - links_read >= CLICK_MAP_SECONDS:
            links, links_for, links_read = await click_map(workspace_id, campaign_id), clicked, time.monotonic()
            context["click_map"] = links
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
