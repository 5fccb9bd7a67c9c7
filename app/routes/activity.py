"""The workspace activity feed, live over Server-Sent Events."""

from __future__ import annotations

from collections.abc import AsyncIterator

from litestar import Controller, Request, get
from litestar.response import ServerSentEvent, ServerSentEventMessage
from litestar.template import TemplateEngineProtocol

from app.redis_client import get_redis
from app.services import activity
from app.web.auth import signed_in


class ActivityController(Controller):
    guards = [signed_in]
    include_in_schema = False

    @get("/events/activity", name="activity_stream")
    async def stream(self, request: Request) -> ServerSentEvent:
        workspace_id = request.state.viewer.workspace_id
        engine: TemplateEngineProtocol = request.app.template_engine
        item = engine.get_template("partials/activity_item.html")

        async def events() -> AsyncIterator[ServerSentEventMessage]:
            async for event in activity.follow(get_redis(), workspace_id):
                if event is None:
                    yield ServerSentEventMessage(comment="keep-alive")
                else:
                    yield ServerSentEventMessage(event="activity", data=item.render(entry=event))

        return ServerSentEvent(events(), headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})
