"""Mailing → Bounces → Mailboxes: the IMAP/POP3 bounce and FBL mailboxes, Test connection and Poll now."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.plugins.flash import flash
from litestar.response import Redirect, Template
from redis.asyncio import Redis

from app.routes.portals import section_context
from app.services import audit
from app.services.bounces import mailboxes
from app.tasks.mailboxes import poll_and_queue
from app.web.auth import signed_in
from app.web.pages import actor_of, submitted

INDEX = "mailing/bounces/mailboxes.html"
EDITOR = "mailing/bounces/mailbox_form.html"
CONNECTION = "mailing/bounces/partials/mailbox_connection.html"
MANAGE = {"action": "delivery.manage"}
NEW_FORM = {"kind": "bounce", "protocol": "imap", "security": "ssl", "folder": "INBOX", "after": "delete",
            "poll_seconds": mailboxes.DEFAULT_POLL_SECONDS, "enabled": True}


def _editor_context(mailbox: dict | None) -> dict[str, Any]:
    return {**section_context("mailing", "bounces"), "mailbox": mailbox, "kinds": mailboxes.KINDS,
            "protocols": mailboxes.PROTOCOLS, "securities": mailboxes.SECURITIES, "afters": mailboxes.AFTER,
            "default_ports": {f"{protocol}-{security}": port
                              for (protocol, security), port in mailboxes.DEFAULT_PORTS.items()}}


class BounceMailboxController(Controller):
    path = "/mailing/bounces/mailboxes"
    guards = [signed_in]
    include_in_schema = False

    @get("/", name="bounce_mailboxes")
    async def index(self, workspace_id: int) -> Template:
        return Template(INDEX, context={**section_context("mailing", "bounces"), "kinds": mailboxes.KINDS,
                                        "mailboxes": await mailboxes.mailboxes(workspace_id)})

    @get("/new")
    async def new(self) -> Template:
        return Template(EDITOR, context={**_editor_context(None), "form": NEW_FORM, "errors": {}})

    @post("/", opt=MANAGE)
    async def create(self, request: Request, workspace_id: int, redis: Redis) -> Redirect:
        form = await submitted(request, EDITOR, _editor_context(None))
        async with audit.change(redis, workspace_id, actor_of(request)) as change:
            mailbox = await mailboxes.create_mailbox(workspace_id, form)
            change.note("bounce_mailbox.created", "bounce_mailbox", mailbox["id"], {"name": mailbox["name"]})
        flash(request, f"Mailbox “{mailbox['name']}” added. Test the connection, then poll it.", "success")
        return Redirect(f"/mailing/bounces/mailboxes/{mailbox['id']}", status_code=303)

    @get("/{mailbox_id:int}", name="bounce_mailbox")
    async def edit(self, workspace_id: int, mailbox_id: int) -> Template:
        mailbox = await mailboxes.get_mailbox(workspace_id, mailbox_id)
        return Template(EDITOR, context={**_editor_context(mailbox), "form": mailboxes.form_of(mailbox),
                                         "errors": {}, "check": None, "polled": None})

    @post("/{mailbox_id:int}", opt=MANAGE)
    async def update(self, request: Request, workspace_id: int, mailbox_id: int, redis: Redis) -> Redirect:
        mailbox = await mailboxes.get_mailbox(workspace_id, mailbox_id)
        form = await submitted(request, EDITOR, {**_editor_context(mailbox), "check": None, "polled": None})
        async with audit.change(redis, workspace_id, actor_of(request)) as change:
            await mailboxes.update_mailbox(workspace_id, mailbox_id, form)
            change.note("bounce_mailbox.updated", "bounce_mailbox", mailbox_id)
        flash(request, "Mailbox saved.", "success")
        return Redirect(f"/mailing/bounces/mailboxes/{mailbox_id}", status_code=303)

    @post("/{mailbox_id:int}/test", opt=MANAGE)
    async def test_connection(self, workspace_id: int, mailbox_id: int) -> Template:
        check = await mailboxes.test_connection(workspace_id, mailbox_id)
        return Template(CONNECTION, context={"mailbox": await mailboxes.get_mailbox(workspace_id, mailbox_id),
                                             "check": check, "polled": None})

    @post("/{mailbox_id:int}/poll", opt=MANAGE)
    async def poll_now(self, workspace_id: int, mailbox_id: int, redis: Redis) -> Template:
        polled = await poll_and_queue(await mailboxes.get_mailbox(workspace_id, mailbox_id), redis)
        return Template(CONNECTION, context={"mailbox": await mailboxes.get_mailbox(workspace_id, mailbox_id),
                                             "check": None, "polled": polled})

    @post("/{mailbox_id:int}/delete", opt=MANAGE)
    async def delete(self, request: Request, workspace_id: int, mailbox_id: int, redis: Redis) -> Redirect:
        async with audit.change(redis, workspace_id, actor_of(request)) as change:
            deleted = await mailboxes.delete_mailbox(workspace_id, mailbox_id)
            change.note("bounce_mailbox.deleted", "bounce_mailbox", mailbox_id, {"name": deleted["name"]})
        flash(request, f"Mailbox “{deleted['name']}” removed. Its messages stay on its server.", "info")
        return Redirect("/mailing/bounces/mailboxes", status_code=303)
