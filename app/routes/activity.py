"""The workspace activity feed, live over Server-Sent Events, each entry in words."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from litestar import Controller, Request, get
from litestar.response import ServerSentEvent, ServerSentEventMessage
from litestar.template import TemplateEngineProtocol
from redis.asyncio import Redis

from app.services import activity, activity_feed
from app.web.auth import signed_in

ITEM = "partials/activity_item.html"


async def feed_messages(redis: Redis, workspace_id: int, item: Any) -> AsyncIterator[ServerSentEventMessage]:
    """Each entry as it is published, rendered in words; a keep-alive comment after each quiet spell."""
    async for event in activity.follow(redis, workspace_id):
        if event is None:
            yield ServerSentEventMessage(comment="keep-alive")
        else:
            [entry] = await activity_feed.in_words(workspace_id, [event])
            yield ServerSentEventMessage(event="activity", data=item.render(entry=entry))


class ActivityController(Controller):
    guards = [signed_in]
    include_in_schema = False

    @get("/events/activity", name="activity_stream")
    async def stream(self, request: Request, workspace_id: int, redis: Redis) -> ServerSentEvent:
        engine: TemplateEngineProtocol = request.app.template_engine
        return ServerSentEvent(feed_messages(redis, workspace_id, engine.get_template(ITEM)),
                               headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})
