"""Delivery servers (ESP connections): list, add by type, edit, test the connection, pause, remove."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.exceptions import NotFoundException
from litestar.plugins.flash import flash
from litestar.response import Redirect, Template

from app.esp.base import Health
from app.redis_client import get_redis
from app.routes.portals import section_context
from app.services import audit, delivery_servers, warmup_plans
from app.services.delivery_servers import KINDS, ServerError
from app.services.delivery_status import server_status
from app.services.subscribers import SubscriberError, normalized_email
from app.web.auth import signed_in
from app.web.pages import actor_of, form_values


def _form_from_row(row: dict) -> dict[str, Any]:
    form = {key: row[key] for key in ("name", "from_email", "from_name", "bounce_address", "per_second",
                                      "hourly_quota", "daily_quota", "monthly_quota", "weight", "cost_per_thousand")}
    form["allowed_domains"] = " ".join(row["allowed_domains"] or [])
    form.update({f"setting_{key}": value for key, value in (row["settings"] or {}).items()})
    return form


def _editor(kind: str, form: dict, errors: dict, server: dict | None, status_code: int = 200) -> Template:
    return Template("mailing/delivery/server_form.html", status_code=status_code, context={
        **section_context("mailing", "delivery"), "kind": kind, "kind_label": KINDS[kind][0],
        "settings": KINDS[kind][1], "form": form, "errors": errors, "server": server,
        "masked": delivery_servers.masked_secrets(server) if server else {},
    })


class DeliveryController(Controller):
    path = "/mailing/delivery"
    guards = [signed_in]
    include_in_schema = False

    @get("/", name="delivery")
    async def index(self, request: Request) -> Template:
        redis = get_redis()
        workspace_id = request.state.viewer.workspace_id
        servers = await delivery_servers.servers(workspace_id)
        plans = await warmup_plans.plans_by_id(workspace_id)
        return Template("mailing/delivery/index.html", context={
            **section_context("mailing", "delivery"), "kinds": KINDS, "servers": servers,
            "rows": [await server_status(redis, server, plans) for server in servers]})

    @get("/servers/new")
    async def new(self, kind: str = "smtp") -> Template:
        if kind not in KINDS:
            raise NotFoundException()
        return _editor(kind, {"weight": 100}, {}, None)

    @post("/servers", opt={"action": "delivery.manage"})
    async def create(self, request: Request) -> Template | Redirect:
        form = form_values(await request.form())
        kind = form.get("kind", "")
        if kind not in KINDS:
            raise NotFoundException()
        workspace_id = request.state.viewer.workspace_id
        try:
            server = await delivery_servers.create_server(workspace_id, kind, form)
        except ServerError as exc:
            return _editor(kind, form, exc.errors, None, status_code=400)
        await audit.record(get_redis(), workspace_id, actor_of(request), "server.created", "server", server["id"],
                           {"kind": kind, "name": server["name"]})
        flash(request, f"Server “{server['name']}” added. Test the connection before sending.", "success")
        return Redirect(f"/mailing/delivery/servers/{server['id']}", status_code=303)

    @get("/servers/{server_id:int}", name="delivery_server")
    async def edit(self, request: Request, server_id: int) -> Template:
        server = await delivery_servers.get_server(request.state.viewer.workspace_id, server_id)
        if server is None:
            raise NotFoundException()
        return _editor(server["kind"], _form_from_row(server), {}, server)

    @post("/servers/{server_id:int}", opt={"action": "delivery.manage"})
    async def update(self, request: Request, server_id: int) -> Template | Redirect:
        workspace_id = request.state.viewer.workspace_id
        server = await delivery_servers.get_server(workspace_id, server_id)
        if server is None:
            raise NotFoundException()
        form = form_values(await request.form())
        try:
            await delivery_servers.update_server(workspace_id, server_id, form)
        except ServerError as exc:
            return _editor(server["kind"], form, exc.errors, server, status_code=400)
        await audit.record(get_redis(), workspace_id, actor_of(request), "server.updated", "server", server_id)
        flash(request, "Server saved.", "success")
        return Redirect(f"/mailing/delivery/servers/{server_id}", status_code=303)

    @post("/servers/{server_id:int}/test")
    async def test_connection(self, request: Request, server_id: int) -> Template:
        workspace_id = request.state.viewer.workspace_id
        server = await delivery_servers.get_server(workspace_id, server_id)
        if server is None:
            raise NotFoundException()
        form = await request.form()
        test_to = str(form.get("test_to", "")).strip()
        if test_to:
            try:
                test_to = normalized_email(test_to)
            except SubscriberError as exc:
                return Template("mailing/delivery/partials/test_result.html", status_code=400,
                                context={"health": Health(ok=False, detail=exc.errors["email"])})
        health = await delivery_servers.check_connection(server, test_to)
        await delivery_servers.record_check(workspace_id, server_id, health)
        await audit.record(get_redis(), workspace_id, actor_of(request), "server.tested", "server", server_id,
                           {"ok": health.ok})
        return Template("mailing/delivery/partials/test_result.html", context={"health": health})

    @post("/servers/{server_id:int}/status", opt={"action": "delivery.manage"})
    async def set_status(self, request: Request, server_id: int) -> Redirect:
        form = await request.form()
        status = str(form.get("status", ""))
        workspace_id = request.state.viewer.workspace_id
        try:
            await delivery_servers.set_status(workspace_id, server_id, status,
                                              f"set by {request.state.viewer.email}")
        except LookupError as exc:
            raise NotFoundException() from exc
        except ServerError as exc:
            flash(request, "; ".join(exc.errors.values()), "error")
            return Redirect("/mailing/delivery", status_code=303)
        await audit.record(get_redis(), workspace_id, actor_of(request), "server.status_changed", "server",
                           server_id, {"to": status})
        return Redirect("/mailing/delivery", status_code=303)

    @post("/servers/{server_id:int}/delete", opt={"action": "delivery.manage"})
    async def delete(self, request: Request, server_id: int) -> Redirect:
        workspace_id = request.state.viewer.workspace_id
        try:
            deleted = await delivery_servers.delete_server(workspace_id, server_id)
        except LookupError as exc:
            raise NotFoundException() from exc
        await audit.record(get_redis(), workspace_id, actor_of(request), "server.deleted", "server", server_id,
                           {"name": deleted["name"]})
        flash(request, f"Server “{deleted['name']}” removed.", "info")
        return Redirect("/mailing/delivery", status_code=303)
