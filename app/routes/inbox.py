"""The development inbox: what the capture transport kept instead of sending."""

from __future__ import annotations

from litestar import Controller, Request, Response, get
from litestar.response import Template

from app.services import inbox
from app.services.accounts import Viewer
from app.web.auth import signed_in
from app.web.pages import SANDBOX_CSP, page


def _reader(viewer: Viewer) -> inbox.Reader:
    # Owners answer for the workspace: they see that account mail was sent, never its link.
    return inbox.Reader(email=viewer.email, sees_others_account_mail=viewer.has_role("owner"))


class InboxController(Controller):
    path = "/mailing/inbox"
    guards = [signed_in]
    include_in_schema = False

    @get("/", name="inbox")
    async def list_messages(self, request: Request, viewer: Viewer, workspace_id: int,
                            before: int | None = None) -> Template:
        messages = await inbox.captured_messages(workspace_id, _reader(viewer), before_id=before)
        older = messages[-1]["id"] if len(messages) == inbox.PAGE_SIZE else None
        return page(request, "mailing/inbox/list.html", partial="mailing/inbox/partials/rows.html",
                    messages=messages, older=older, portal="mailing", section_slug="inbox")

    @get("/{message_id:int}", name="inbox_message")
    async def show(self, viewer: Viewer, workspace_id: int, message_id: int) -> Template:
        message = await inbox.message_for(workspace_id, _reader(viewer), message_id)
        return Template("mailing/inbox/message.html",
                        context={"message": message, "portal": "mailing", "section_slug": "inbox"})

    @get("/{message_id:int}/html", name="inbox_message_html")
    async def html(self, viewer: Viewer, workspace_id: int, message_id: int) -> Response:
        message = await inbox.message_for(workspace_id, _reader(viewer), message_id)
        return Response(
            message.html or "<p>(no HTML part)</p>",
            media_type="text/html",
            headers={"Content-Security-Policy": SANDBOX_CSP, "X-Content-Type-Options": "nosniff"},
        )
