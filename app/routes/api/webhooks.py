"""Outbound webhook endpoints through the API: define, list, test, read their delivery log."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from litestar import Controller, Request, delete, get, patch, post
from msgspec import UNSET, Meta, Struct, UnsetType
from redis.asyncio import Redis

from app.services import audit
from app.services.webhooks import KINDS, endpoints, log
from app.web.api_auth import ApiCaller, ApiController, api_actor, error_responses
from app.web.api_pages import Page, decode_cursor, encode_cursor, page_limit

SCOPE = {"scope": "webhooks:manage"}
TAGS = ["webhooks"]
SCOPE_NOTE = "Scope: `webhooks:manage`."
EVENTS_NOTE = f"Event kinds the endpoint hears, any of: {', '.join(KINDS)}."


class WebhookEndpointOut(Struct):
    id: int
    url: str
    description: str
    events: list[str]
    enabled: bool
    # Failed attempts in a row; an endpoint whose deliveries keep failing is disabled.
    failures: int
    disabled_reason: str
    created_at: datetime
    updated_at: datetime
    disabled_at: datetime | None = None


class NewWebhookEndpoint(Struct):
    url: Annotated[str, Meta(min_length=1, max_length=endpoints.URL_LENGTH,
                             description="https:// (or http://); private addresses only if the workspace allows "
                                         "them in Settings → Webhooks.")]
    events: Annotated[list[str], Meta(description=EVENTS_NOTE)]
    description: Annotated[str, Meta(max_length=endpoints.DESCRIPTION_LENGTH)] = ""


class WebhookEndpointChanges(Struct):
    url: Annotated[str, Meta(min_length=1, max_length=endpoints.URL_LENGTH)] | UnsetType = UNSET
    events: Annotated[list[str], Meta(description=EVENTS_NOTE)] | UnsetType = UNSET
    description: Annotated[str, Meta(max_length=endpoints.DESCRIPTION_LENGTH)] | UnsetType = UNSET
    enabled: Annotated[bool, Meta(description="true re-enables an endpoint disabled after failures.")] | UnsetType \
        = UNSET


class WebhookEndpointSecret(Struct):
    endpoint: WebhookEndpointOut
    secret: Annotated[str, Meta(description="Signs every delivery: `X-Ignite-Signature: v1=<hex HMAC-SHA256("
                                            "secret, timestamp + '.' + body)>`. Store it now.")]


class WebhookDeliveryOut(Struct):
    id: int
    event_id: UUID
    kind: str
    status: Annotated[str, Meta(description="pending, delivered or failed (no attempt is left).")]
    attempts: int
    payload: dict[str, Any]
    created_at: datetime
    next_attempt_at: datetime | None = None
    last_attempt_at: datetime | None = None
    last_status_code: int | None = None
    last_error: str = ""
    response_excerpt: str = ""
    delivered_at: datetime | None = None


def endpoint_out(row: dict) -> WebhookEndpointOut:
    return WebhookEndpointOut(
        id=row["id"], url=row["url"], description=row["description"], events=list(row["events"]),
        enabled=row["enabled"], failures=row["failures"], disabled_reason=row["disabled_reason"],
        created_at=row["created_at"], updated_at=row["updated_at"], disabled_at=row["disabled_at"])


def delivery_out(row: dict) -> WebhookDeliveryOut:
    payload = row["payload"]
    return WebhookDeliveryOut(
        id=row["id"], event_id=row["event_id"], kind=row["kind"], status=row["status"], attempts=row["attempts"],
        payload=json.loads(payload) if isinstance(payload, str) else payload, created_at=row["created_at"],
        next_attempt_at=row["next_attempt_at"], last_attempt_at=row["last_attempt_at"],
        last_status_code=row["last_status_code"], last_error=row["last_error"],
        response_excerpt=row["response_excerpt"], delivered_at=row["delivered_at"])


def _position(cursor: str | None) -> int | None:
    position = decode_cursor(cursor)
    return position if isinstance(position, int) else None


class WebhookEndpointsController(ApiController):
    path = "/api/v1/webhooks"
    tags = TAGS

    @get("/", opt=SCOPE, summary="List webhook endpoints", operation_id="listWebhookEndpoints",
         responses=error_responses(400), description=f"The workspace's endpoints, oldest first. {SCOPE_NOTE}")
    async def list_endpoints(self, caller: ApiCaller, limit: int | None = None,
                             cursor: str | None = None) -> Page[WebhookEndpointOut]:
        size = page_limit(limit)
        rows = await endpoints.endpoints_page(caller.workspace_id, _position(cursor) or 0, size + 1)
        more = len(rows) > size
        rows = rows[:size]
        return Page(data=[endpoint_out(row) for row in rows],
                    next_cursor=encode_cursor(rows[-1]["id"]) if more else None)

    @post("/", opt=SCOPE, summary="Create a webhook endpoint", operation_id="createWebhookEndpoint",
          responses=error_responses(400, 409, 422),
          description=f"A new endpoint; its signing secret is in this answer. {SCOPE_NOTE}")
    async def create_endpoint(self, request: Request, caller: ApiCaller, data: NewWebhookEndpoint,
                              redis: Redis) -> WebhookEndpointSecret:
        async with audit.change(redis, caller.workspace_id, api_actor(caller, request)) as change:
            row, secret = await endpoints.create_endpoint(
                caller.workspace_id, {"url": data.url, "events": data.events, "description": data.description})
            change.note("webhook_endpoint.created", "webhook_endpoint", row["id"], {"url": row["url"]})
        return WebhookEndpointSecret(endpoint=endpoint_out(row), secret=secret)

    @get("/{endpoint_id:int}", opt=SCOPE, summary="Get a webhook endpoint", operation_id="getWebhookEndpoint",
         responses=error_responses(404), description=f"One endpoint (never its secret). {SCOPE_NOTE}")
    async def get_endpoint(self, caller: ApiCaller, endpoint_id: int) -> WebhookEndpointOut:
        return endpoint_out(await endpoints.endpoint_of(caller.workspace_id, endpoint_id))

    @patch("/{endpoint_id:int}", opt=SCOPE, summary="Change a webhook endpoint",
           operation_id="updateWebhookEndpoint", responses=error_responses(400, 404, 409, 422),
           description=f"The fields given change; `enabled: true` re-enables a disabled endpoint. {SCOPE_NOTE}")
    async def update_endpoint(self, request: Request, caller: ApiCaller, endpoint_id: int,
                              data: WebhookEndpointChanges, redis: Redis) -> WebhookEndpointOut:
        changes = {name: getattr(data, name) for name in ("url", "events", "description", "enabled")
                   if getattr(data, name) is not UNSET}
        async with audit.change(redis, caller.workspace_id, api_actor(caller, request)) as change:
            row = await endpoints.patched_endpoint(caller.workspace_id, endpoint_id, changes)
            change.note("webhook_endpoint.updated", "webhook_endpoint", endpoint_id, {"changed": sorted(changes)})
        return endpoint_out(row)

    @delete("/{endpoint_id:int}", opt=SCOPE, status_code=200, summary="Delete a webhook endpoint",
            operation_id="deleteWebhookEndpoint", responses=error_responses(404, 409),
            description=f"The endpoint and its delivery log. {SCOPE_NOTE}")
    async def delete_endpoint(self, request: Request, caller: ApiCaller, endpoint_id: int,
                              redis: Redis) -> WebhookEndpointOut:
        async with audit.change(redis, caller.workspace_id, api_actor(caller, request)) as change:
            row = await endpoints.delete_endpoint(caller.workspace_id, endpoint_id)
            change.note("webhook_endpoint.deleted", "webhook_endpoint", endpoint_id, {"url": row["url"]})
        return endpoint_out(row)

    @post("/{endpoint_id:int}/ping", opt=SCOPE, status_code=200, summary="Send a test ping",
          operation_id="pingWebhookEndpoint", responses=error_responses(404, 409),
          description=f"A `ping` event posted now, once; the answer says what the endpoint replied. {SCOPE_NOTE}")
    async def ping(self, caller: ApiCaller, endpoint_id: int) -> WebhookDeliveryOut:
        return delivery_out(await log.ping(caller.workspace_id, endpoint_id))

    @get("/{endpoint_id:int}/deliveries", opt=SCOPE, summary="List an endpoint's deliveries",
         operation_id="listWebhookDeliveries", responses=error_responses(400, 404),
         description=f"The delivery log, newest first: status, attempts, last answer. {SCOPE_NOTE}")
    async def deliveries(self, caller: ApiCaller, endpoint_id: int, limit: int | None = None,
                         cursor: str | None = None) -> Page[WebhookDeliveryOut]:
        size = page_limit(limit)
        rows = await log.deliveries_of(caller.workspace_id, endpoint_id, _position(cursor), size + 1)
        more = len(rows) > size
        rows = rows[:size]
        return Page(data=[delivery_out(row) for row in rows],
                    next_cursor=encode_cursor(rows[-1]["id"]) if more else None)

    @post("/{endpoint_id:int}/deliveries/{delivery_id:int}/replay", opt=SCOPE, status_code=202,
          summary="Replay a delivery", operation_id="replayWebhookDelivery", responses=error_responses(404, 409),
          description=f"The same event (same id) queued again for the endpoint, as a new delivery. {SCOPE_NOTE}")
    async def replay(self, request: Request, caller: ApiCaller, endpoint_id: int, delivery_id: int,
                     redis: Redis) -> WebhookDeliveryOut:
        async with audit.change(redis, caller.workspace_id, api_actor(caller, request)) as change:
            row = await log.replay(caller.workspace_id, endpoint_id, delivery_id)
            change.note("webhook_delivery.replayed", "webhook_endpoint", endpoint_id, {"delivery": delivery_id})
        return delivery_out(row)


CONTROLLERS: list[type[Controller]] = [WebhookEndpointsController]
