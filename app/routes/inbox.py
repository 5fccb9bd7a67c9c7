"""The development inbox: what the capture transport kept instead of sending."""

from __future__ import annotations

from litestar import Controller, Request, Response, get
from litestar.exceptions import NotFoundException
from litestar.response import Template

from app.services import inbox
from app.web.auth import signed_in
from app.web.pages import SANDBOX_CSP, page


class InboxController(Controller):
    path = "/mailing/inbox"
    guards = [signed_in]
    include_in_schema = False

    @get("/", name="inbox")
    async def list_messages(self, request: Request, before: int | None = None) -> Template:
        messages = await inbox.captured_messages(request.state.viewer.workspace_id, before_id=before)
        older = messages[-1]["id"] if len(messages) == inbox.PAGE_SIZE else None
        return page(request, "mailing/inbox/list.html", partial="mailing/inbox/partials/rows.html",
                    messages=messages, older=older, portal="mailing", section_slug="inbox")

    @get("/{message_id:int}", name="inbox_message")
    async def show(self, request: Request, message_id: int) -> Template:
        message = await inbox.captured_message(request.state.viewer.workspace_id, message_id)
        if message is None:
            raise NotFoundException()
        return Template("mailing/inbox/message.html",
                        context={"message": message, "portal": "mailing", "section_slug": "inbox"})

    @get("/{message_id:int}/html", name="inbox_message_html")
    async def html(self, request: Request, message_id: int) -> Response:
        message = await inbox.captured_message(request.state.viewer.workspace_id, message_id)
        if message is None:
            raise NotFoundException()
        return Response(
            message.html or "<p>(no HTML part)</p>",
            media_type="text/html",
            headers={"Content-Security-Policy": SANDBOX_CSP, "X-Content-Type-Options": "nosniff"},
        )
