"""Provider webhooks for bounces and complaints, and the card on a server's page that says how to set them up.

`POST /webhooks/<provider>/<token>` is public (no session, no CSRF token: NO_SESSION in app/main.py);
the signed token and the provider's own signature stand in for both. It stores the events and queues
their processing, then answers at once: 200 `{"accepted": n}`, else `{"error": {"code": ..., "message": ...}}`
with a stable code (`malformed_body`, `unauthenticated`, `bad_signature`, `no_signing_key`, `no_such_webhook`).
"""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.response import Template

from app.services.bounces import webhooks
from app.services.delivery_servers import get_server
from app.settings import get_settings
from app.tasks.bounces import process_reports
from app.web.auth import signed_in
from app.web.pages import submitted

PANEL = "mailing/delivery/partials/server_webhook_panel.html"


def _refused(_: Request, exc: webhooks.WebhookRefused) -> Response:
    return Response({"error": {"code": exc.code, "message": exc.message}}, status_code=exc.status)


class BounceWebhookController(Controller):
    include_in_schema = False
    exception_handlers = {webhooks.WebhookRefused: _refused}

    @post("/webhooks/{provider:str}/{token:str}", name="bounce_webhook", status_code=200)
    async def receive(self, request: Request, provider: str, token: str) -> Response:
        report_ids = await webhooks.receive(provider, token, request.headers, await request.body())
        if report_ids:
            process_reports.send(report_ids)
        return Response({"accepted": len(report_ids)}, status_code=200)


async def _panel_context(workspace_id: int, server_id: int) -> dict[str, Any]:
    settings = get_settings()
    server = await get_server(workspace_id, server_id)
    provider = webhooks.provider_of(server)
    context: dict[str, Any] = {"server": server, "provider": provider, "saved": False}
    if provider is None:
        return context
    url = webhooks.webhook_url(settings, server)
    context["url"] = url
    if provider == "sparkpost":
        token = webhooks.webhook_token(settings, workspace_id, server_id)
        context["sparkpost_user"] = webhooks.SPARKPOST_USER
        context["sparkpost_password"] = webhooks.sparkpost_password(settings, token)
    if provider == "mailgun":
        context["has_key"] = bool(await webhooks.signing_key(workspace_id, server_id))
    return context


class ServerWebhookController(Controller):
    path = "/mailing/delivery/servers/{server_id:int}/webhook"
    guards = [signed_in]
    include_in_schema = False

    @get("/", opt={"action": "delivery.manage"})
    async def panel(self, workspace_id: int, server_id: int) -> Template:
        return Template(PANEL, context={**await _panel_context(workspace_id, server_id), "form": {}, "errors": {}})

    @post("/", opt={"action": "delivery.manage"})
    async def save_key(self, request: Request, workspace_id: int, server_id: int) -> Template:
        async def context() -> dict[str, Any]:
            return await _panel_context(workspace_id, server_id)

        form = await submitted(request, PANEL, context)
        await webhooks.save_signing_key(workspace_id, server_id, form.get("signing_key", ""))
        return Template(PANEL, context={**await context(), "saved": True, "form": {}, "errors": {}})
