"""Mailing → Transactional: a searchable log of messages sent through the API, and each message's events."""

from __future__ import annotations

from html import escape
from typing import Any

from litestar import Controller, Request, get
from litestar.response import Response, Template

from app.routes.portals import section_context
from app.services import transactional
from app.services.forms import FormError
from app.services.transactional import MessageFilter, previews
from app.web.auth import signed_in
from app.web.pages import SANDBOX_CSP, page
from app.web.params import int_param

LOG = "mailing/transactional/log.html"
SEARCH = "mailing/transactional/partials/search.html"
DETAIL = "mailing/transactional/detail.html"
# Served to the preview frame: no script, no same-origin access, nothing sniffed.
FRAME_HEADERS = {"Content-Security-Policy": SANDBOX_CSP, "X-Content-Type-Options": "nosniff"}


def _common() -> dict[str, Any]:
    return {**section_context("mailing", "transactional"), "statuses": transactional.STATUSES}


class TransactionalLogController(Controller):
    path = "/mailing/transactional"
    guards = [signed_in]
    include_in_schema = False

    @get("/", name="transactional_log")
    async def index(self, request: Request, workspace_id: int) -> Template:
        form = {name: str(request.query_params.get(name) or "") for name in ("email", "status", "tag", "since",
                                                                               "until")}
        try:
            chosen = transactional.log_filter(form)
        except FormError as exc:
            return page(request, LOG, partial=SEARCH, status_code=422, **_common(), rows=[], subjects={},
                        cursor=None, before=None, chosen=MessageFilter(), form=form, errors=exc.errors)
        before = int_param(request.query_params, "before")
        rows, cursor = await transactional.messages_page(workspace_id, chosen, before)
        return page(request, LOG, partial=SEARCH, **_common(), rows=rows,
                    subjects=await previews.rendered_subjects(workspace_id, rows), cursor=cursor, before=before,
                    chosen=chosen, form=form, errors={})

    @get("/{message_id:int}", name="transactional_message")
    async def detail(self, workspace_id: int, message_id: int) -> Template:
        message = await transactional.message_of(workspace_id, message_id)
        return Template(DETAIL, context={**_common(), "message": message,
                                         "content": await previews.message_content(workspace_id, message),
                                         "events": await transactional.message_events(workspace_id, message_id)})

    @get("/{message_id:int}/preview", name="transactional_preview")
    async def preview(self, workspace_id: int, message_id: int) -> Response:
        """The message's HTML merged with its data, for the sandboxed frame of its page."""
        message = await transactional.message_of(workspace_id, message_id)
        shown = (await previews.message_content(workspace_id, message))["preview"]
        html = shown.parts.html if shown.parts else f"<p>The content cannot be previewed: {escape(shown.problem)}</p>"
        return Response(html, media_type="text/html", headers=FRAME_HEADERS)


CONTROLLERS: list[type[Controller]] = [TransactionalLogController]
