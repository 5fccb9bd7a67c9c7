"""Delivery servers (ESP connections): list, add by type, edit, test the connection, pause, remove; their bounce
and complaint rates, the pauses those rates decided (lifted here), and the decisions."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.exceptions import NotFoundException
from litestar.plugins.flash import flash
from litestar.response import Redirect, Template
from redis.asyncio import Redis

from app.routes.portals import section_context
from app.services import audit, delivery_servers
from app.services.accounts import Viewer
from app.services.bounces.feedback_view import feedback_view
from app.services.delivery_servers import KINDS
from app.services.delivery_status import server_statuses
from app.services.form_input import LARGEST_INTEGER
from app.services.throttling import pauses
from app.web.auth import signed_in
from app.web.pages import actor_of, submitted

EDITOR = "mailing/delivery/server_form.html"
CONNECTION = "mailing/delivery/partials/connection.html"


def _form_from_row(row: dict) -> dict[str, Any]:
    form = {key: row[key] for key in ("name", "from_email", "from_name", "bounce_address", "per_second",
                                      "hourly_quota", "daily_quota", "monthly_quota", "weight", "cost_per_thousand")}
    form["allowed_domains"] = " ".join(row["allowed_domains"] or [])
    form.update({f"setting_{key}": value for key, value in (row["settings"] or {}).items()})
    return form


def _server_id(value: object) -> int:
    text = str(value or "")
    if not text.isdigit() or int(text) > LARGEST_INTEGER:
        raise NotFoundException("There is no such server.")
    return int(text)


def _kind(kind: str) -> str:
    if kind not in KINDS:
        raise NotFoundException("There is no such server type.")
    return kind


def _editor_context(kind: str, server: dict | None, viewer: Viewer) -> dict[str, Any]:
    masked = delivery_servers.masked_secrets(server, viewer.has_role("admin")) if server else {}
    return {**section_context("mailing", "delivery"), "kind": kind, "kind_label": KINDS[kind][0],
            "settings": KINDS[kind][1], "server": server, "masked": masked}


class DeliveryController(Controller):
    path = "/mailing/delivery"
    guards = [signed_in]
    include_in_schema = False

    @get("/", name="delivery")
    async def index(self, workspace_id: int, redis: Redis) -> Template:
        return Template("mailing/delivery/index.html", context={
            **section_context("mailing", "delivery"), "kinds": KINDS,
            "rows": await server_statuses(redis, workspace_id), "feedback": await feedback_view(workspace_id)})

    @post("/pauses/lift", opt={"action": "delivery.manage"})
    async def lift_pause(self, request: Request, workspace_id: int, viewer: Viewer, redis: Redis) -> Redirect:
        form = await request.form()
        server_id, group = _server_id(form.get("server_id")), str(form.get("domain_group", ""))
        async with audit.change(redis, workspace_id, actor_of(request)) as change:
            await pauses.lift(workspace_id, server_id, group, viewer.email)
            change.note("server.pause_lifted", "server", server_id, {"domain_group": group})
        flash(request, f"Pause lifted: the server sends to {group} again.", "success")
        return Redirect("/mailing/delivery", status_code=303)

    @get("/servers/new")
    async def new(self, viewer: Viewer, kind: str = "smtp") -> Template:
        return Template(EDITOR, context={**_editor_context(_kind(kind), None, viewer), "form": {"weight": 100},
                                         "errors": {}})

    @post("/servers", opt={"action": "delivery.manage"})
    async def create(self, request: Request, workspace_id: int, viewer: Viewer, redis: Redis) -> Redirect:
        kind = _kind(str((await request.form()).get("kind", "")))
        form = await submitted(request, EDITOR, _editor_context(kind, None, viewer))
        async with audit.change(redis, workspace_id, actor_of(request)) as change:
            server = await delivery_servers.create_server(workspace_id, kind, form)
            change.note("server.created", "server", server["id"], {"kind": kind, "name": server["name"]})
        flash(request, f"Server “{server['name']}” added. Test the connection before sending.", "success")
        return Redirect(f"/mailing/delivery/servers/{server['id']}", status_code=303)

    @get("/servers/{server_id:int}", name="delivery_server")
    async def edit(self, workspace_id: int, viewer: Viewer, server_id: int) -> Template:
        server = await delivery_servers.get_server(workspace_id, server_id)
        return Template(EDITOR, context={**_editor_context(server["kind"], server, viewer),
                                         "form": _form_from_row(server), "errors": {}})

    @post("/servers/{server_id:int}", opt={"action": "delivery.manage"})
    async def update(self, request: Request, server_id: int, workspace_id: int, viewer: Viewer,
                     redis: Redis) -> Redirect:
        server = await delivery_servers.get_server(workspace_id, server_id)
        form = await submitted(request, EDITOR, _editor_context(server["kind"], server, viewer))
        async with audit.change(redis, workspace_id, actor_of(request)) as change:
            await delivery_servers.update_server(workspace_id, server_id, form)
            change.note("server.updated", "server", server_id)
        flash(request, "Server saved.", "success")
        return Redirect(f"/mailing/delivery/servers/{server_id}", status_code=303)

    @post("/servers/{server_id:int}/test")
    async def test_connection(self, request: Request, server_id: int, workspace_id: int, redis: Redis) -> Template:
        server = await delivery_servers.get_server(workspace_id, server_id)
        form = await submitted(request, CONNECTION, {"server": server, "health": None})
        health = await delivery_servers.test_connection(workspace_id, server_id, form)
        await audit.record(redis, workspace_id, actor_of(request), "server.tested", "server", server_id,
                           {"ok": health.ok})
        return Template(CONNECTION, context={"server": await delivery_servers.get_server(workspace_id, server_id),
                                             "health": health, "form": form, "errors": {}})

    @post("/servers/{server_id:int}/status", opt={"action": "delivery.manage"})
    async def set_status(self, request: Request, server_id: int, workspace_id: int, viewer: Viewer,
                         redis: Redis) -> Redirect:
        status = str((await request.form()).get("status", ""))
        async with audit.change(redis, workspace_id, actor_of(request)) as change:
            await delivery_servers.set_status(workspace_id, server_id, status, f"set by {viewer.email}")
            change.note("server.status_changed", "server", server_id, {"to": status})
        return Redirect("/mailing/delivery", status_code=303)

    @post("/servers/{server_id:int}/delete", opt={"action": "delivery.manage"})
    async def delete(self, request: Request, server_id: int, workspace_id: int, redis: Redis) -> Redirect:
        async with audit.change(redis, workspace_id, actor_of(request)) as change:
            deleted = await delivery_servers.delete_server(workspace_id, server_id)
            change.note("server.deleted", "server", server_id, {"name": deleted["name"]})
        flash(request, f"Server “{deleted['name']}” removed.", "info")
        return Redirect("/mailing/delivery", status_code=303)
