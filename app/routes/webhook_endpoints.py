"""Settings → Webhooks: endpoints, their event filters, delivery log, replay and test ping."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.plugins.flash import flash
from litestar.response import Redirect, Template
from redis.asyncio import Redis

from app.services import audit
from app.services.webhooks import KINDS, endpoints, log
from app.services.webhooks.events import wake
from app.web.auth import signed_in
from app.web.pages import actor_of, form_values, on_form_error

INDEX = "settings/webhooks.html"
FORM = "settings/webhooks_form.html"
ENDPOINT = "settings/webhooks_endpoint.html"
PING = "settings/partials/webhook_ping.html"
SECRET = "settings/partials/webhook_secret.html"
HOME = "/settings/webhooks"
# Each endpoint receives the workspace's subscribers and events: the same people as API keys.
MANAGE = {"action": "webhooks.manage"}


def _form_context(endpoint: dict | None, allow_private: bool) -> dict[str, Any]:
    return {"endpoint": endpoint, "kinds": KINDS, "allow_private": allow_private}


async def _endpoint_form(request: Request, template: str, context: dict[str, Any]) -> dict[str, Any]:
    """The posted endpoint form; its ticked events as a list. A FormError re-renders it with them ticked."""
    form = await request.form()
    values: dict[str, Any] = {**form_values(form), "events": form.getall("events", [])}
    on_form_error(request, template, context, values)
    return values


async def _log_context(workspace_id: int, endpoint_id: int, before: int | None = None) -> dict[str, Any]:
    rows = await log.deliveries_of(workspace_id, endpoint_id, before)
    return {"deliveries": log.shown(rows), "more": rows[-1]["id"] if len(rows) == log.PAGE_SIZE else None}


async def _endpoint_page(workspace_id: int, endpoint_id: int, before: int | None = None) -> Template:
    endpoint = await endpoints.endpoint_of(workspace_id, endpoint_id)
    return Template(ENDPOINT, context={"endpoint": endpoint, "kinds": KINDS,
                                       **await _log_context(workspace_id, endpoint_id, before)})


class WebhookEndpointsController(Controller):
    path = HOME
    guards = [signed_in]
    include_in_schema = False

    @get("/", name="webhook_endpoints", opt=MANAGE)
    async def index(self, workspace_id: int) -> Template:
        return Template(INDEX, context={"endpoints": await endpoints.endpoints_of(workspace_id), "kinds": KINDS,
                                        "allow_private": await endpoints.private_targets_allowed(workspace_id)})

    @post("/private-targets", opt=MANAGE)
    async def private_targets(self, request: Request, workspace_id: int, redis: Redis) -> Redirect:
        allowed = (await request.form()).get("allow_private_targets") == "on"
        async with audit.change(redis, workspace_id, actor_of(request)) as change:
            await endpoints.allow_private_targets(workspace_id, allowed)
            change.note("webhooks.private_targets_" + ("allowed" if allowed else "refused"), "workspace",
                        workspace_id)
        flash(request, "Endpoints may now post to private addresses." if allowed
              else "Private, loopback and link-local addresses are refused again.", "success")
        return Redirect(HOME, status_code=303)

    @get("/new", opt=MANAGE)
    async def new(self, workspace_id: int) -> Template:
        allow = await endpoints.private_targets_allowed(workspace_id)
        return Template(FORM, context={**_form_context(None, allow), "errors": {},
                                       "form": {"url": "", "events": list(KINDS)}})

    @post("/", opt=MANAGE)
    async def create(self, request: Request, workspace_id: int, redis: Redis) -> Template:
        allow = await endpoints.private_targets_allowed(workspace_id)
        form = await _endpoint_form(request, FORM, _form_context(None, allow))
        async with audit.change(redis, workspace_id, actor_of(request)) as change:
            endpoint, secret = await endpoints.create_endpoint(workspace_id, form)
            change.note("webhook_endpoint.created", "webhook_endpoint", endpoint["id"], {"url": endpoint["url"]})
        page = await _endpoint_page(workspace_id, endpoint["id"])
        page.context.update(secret=secret, created=True)
        return page

    @get("/{endpoint_id:int}", name="webhook_endpoint", opt=MANAGE)
    async def show(self, workspace_id: int, endpoint_id: int, before: int | None = None) -> Template:
        return await _endpoint_page(workspace_id, endpoint_id, before)

    @get("/{endpoint_id:int}/edit", opt=MANAGE)
    async def edit(self, workspace_id: int, endpoint_id: int) -> Template:
        endpoint = await endpoints.endpoint_of(workspace_id, endpoint_id)
        allow = await endpoints.private_targets_allowed(workspace_id)
        return Template(FORM, context={**_form_context(endpoint, allow), "errors": {},
                                       "form": endpoints.form_of(endpoint)})

    @post("/{endpoint_id:int}", opt=MANAGE)
    async def update(self, request: Request, workspace_id: int, endpoint_id: int, redis: Redis) -> Redirect:
        endpoint = await endpoints.endpoint_of(workspace_id, endpoint_id)
        allow = await endpoints.private_targets_allowed(workspace_id)
        form = await _endpoint_form(request, FORM, _form_context(endpoint, allow))
        async with audit.change(redis, workspace_id, actor_of(request)) as change:
            saved = await endpoints.update_endpoint(workspace_id, endpoint_id, form)
            change.note("webhook_endpoint.updated", "webhook_endpoint", endpoint_id,
                        {"url": saved["url"], "events": saved["events"]})
        flash(request, "Endpoint saved.", "success")
        return Redirect(f"{HOME}/{endpoint_id}", status_code=303)

    @post("/{endpoint_id:int}/enabled", opt=MANAGE)
    async def set_enabled(self, request: Request, workspace_id: int, endpoint_id: int, redis: Redis) -> Redirect:
        enabled = (await request.form()).get("enabled") == "1"
        async with audit.change(redis, workspace_id, actor_of(request)) as change:
            endpoint = await endpoints.set_enabled(workspace_id, endpoint_id, enabled)
            change.note("webhook_endpoint.enabled" if enabled else "webhook_endpoint.disabled", "webhook_endpoint",
                        endpoint_id, {"url": endpoint["url"]})
        flash(request, "Endpoint enabled: deliveries still waiting are posted now." if enabled
              else "Endpoint disabled: events are no longer posted to it.", "success")
        if enabled:
            await wake()
        return Redirect(f"{HOME}/{endpoint_id}", status_code=303)

    @post("/{endpoint_id:int}/ping", opt=MANAGE)
    async def ping(self, workspace_id: int, endpoint_id: int) -> Template:
        """The endpoint's answer, and the log (swapped in beside it) now showing the ping."""
        delivery = await log.ping(workspace_id, endpoint_id)
        return Template(PING, context={"delivery": delivery, "endpoint": await endpoints.endpoint_of(
            workspace_id, endpoint_id), **await _log_context(workspace_id, endpoint_id)})

    @post("/{endpoint_id:int}/secret", opt=MANAGE)
    async def reveal_secret(self, request: Request, workspace_id: int, endpoint_id: int, redis: Redis) -> Template:
        secret = await endpoints.revealed_secret(workspace_id, endpoint_id)
        await audit.record(redis, workspace_id, actor_of(request), "webhook_endpoint.secret_revealed",
                           "webhook_endpoint", endpoint_id)
        return Template(SECRET, context={"secret": secret, "rotated": False})

    @post("/{endpoint_id:int}/rotate", opt=MANAGE)
    async def rotate_secret(self, request: Request, workspace_id: int, endpoint_id: int, redis: Redis) -> Template:
        async with audit.change(redis, workspace_id, actor_of(request)) as change:
            secret = await endpoints.rotate_secret(workspace_id, endpoint_id)
            change.note("webhook_endpoint.secret_rotated", "webhook_endpoint", endpoint_id)
        return Template(SECRET, context={"secret": secret, "rotated": True})

    @post("/{endpoint_id:int}/deliveries/{delivery_id:int}/replay", opt=MANAGE)
    async def replay(self, request: Request, workspace_id: int, endpoint_id: int, delivery_id: int,
                     redis: Redis) -> Redirect:
        async with audit.change(redis, workspace_id, actor_of(request)) as change:
            queued = await log.replay(workspace_id, endpoint_id, delivery_id)
            change.note("webhook_delivery.replayed", "webhook_endpoint", endpoint_id,
                        {"delivery": delivery_id, "event": str(queued["event_id"])})
        flash(request, f"Event {queued['kind']} was waiting for a retry: that retry is posted within seconds "
              "instead, so the event is not posted twice." if queued["attempts"]
              else f"Event {queued['kind']} queued again: it is posted within seconds.", "success")
        return Redirect(f"{HOME}/{endpoint_id}", status_code=303)

    @post("/{endpoint_id:int}/delete", opt=MANAGE)
    async def delete(self, request: Request, workspace_id: int, endpoint_id: int, redis: Redis) -> Redirect:
        async with audit.change(redis, workspace_id, actor_of(request)) as change:
            deleted = await endpoints.delete_endpoint(workspace_id, endpoint_id)
            change.note("webhook_endpoint.deleted", "webhook_endpoint", endpoint_id, {"url": deleted["url"]})
        flash(request, f"Endpoint {deleted['url']} deleted with its delivery log.", "info")
        return Redirect(HOME, status_code=303)


CONTROLLERS: list[type[Controller]] = [WebhookEndpointsController]
