"""Custom events about a subscriber posted by other systems (`viewed_offer`, `trial_started`): flows start on
them, waits end on them, conditions ask about them (app/services/automations/custom_events.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from litestar import post
from msgspec import Meta, Struct

from app.routes.api.audience import NO_NUL, Email
from app.routes.api.common import BodyId
from app.services.accounts import now
from app.services.automations import custom_events
from app.web.api_auth import ApiCaller, ApiController, error_responses


class EventIn(Struct):
    name: Annotated[str, Meta(min_length=1, max_length=64, pattern=NO_NUL,
                              description="the event's name: letters, digits, _ . : or -, starting with a letter; "
                                          "not one Ignite records itself (opened, clicked, converted, subscribed, "
                                          "confirmed)")]
    subscriber_id: Annotated[BodyId | None, Meta(description="the subscriber it happened to; or give `email`")] = None
    email: Annotated[Email, Meta(description="the address it happened to: every list's subscriber of that address, "
                                             "or the one on `list_id`")] = ""
    list_id: Annotated[BodyId | None, Meta(description="with `email`: only the subscriber on this list")] = None
    properties: Annotated[dict[str, Any], Meta(description="anything about the event, kept with it (up to 16 KB "
                                                           "of JSON)")] = {}
    occurred_at: Annotated[datetime | None, Meta(description="when it happened, with its offset; now when left "
                                                             "out")] = None


class EventOut(Struct):
    name: str
    subscriber_ids: Annotated[list[int], Meta(description="the subscribers the event was stored for")]
    occurred_at: datetime
    enrolled: Annotated[int, Meta(description="enrolments it started in flows whose trigger is this event")]
    woken: Annotated[int, Meta(description="enrolments waiting for this event that it moved on")]


class EventsController(ApiController):
    path = "/api/v1/events"
    tags = ["events"]

    @post("/", summary="Post a custom event", operation_id="createEvent", opt={"scope": "subscribers:write"},
          responses=error_responses(400, 404, 422),
          description="Stores an event that happened to a subscriber (by `subscriber_id`, or by `email` and "
                      "optionally `list_id`), starts the active flows whose trigger is this event and moves on "
                      "the enrolments waiting for it. 404 when the workspace has no such subscriber. Scope "
                      "`subscribers:write`.")
    async def create(self, caller: ApiCaller, data: EventIn) -> EventOut:
        posted = await custom_events.post_event(
            caller.workspace_id, data.name, subscriber_id=data.subscriber_id, email=data.email, list_id=data.list_id,
            properties=data.properties, occurred_at=data.occurred_at, now=now())
        return EventOut(posted.name, posted.subscriber_ids, posted.occurred_at, posted.enrolled, posted.woken)


CONTROLLERS = [EventsController]
