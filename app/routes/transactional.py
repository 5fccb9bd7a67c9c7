"""Mailing → Transactional: a searchable log of messages sent through the API, and each message's events."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get
from litestar.response import Template

from app.routes.portals import section_context
from app.services import transactional
from app.services.forms import FormError
from app.services.transactional import MessageFilter
from app.web.auth import signed_in
from app.web.pages import page
from app.web.params import int_param

LOG = "mailing/transactional/log.html"
SEARCH = "mailing/transactional/partials/search.html"
DETAIL = "mailing/transactional/detail.html"


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
            return page(request, LOG, partial=SEARCH, status_code=422, **_common(), rows=[], cursor=None,
                        before=None, chosen=MessageFilter(), form=form, errors=exc.errors)
        before = int_param(request.query_params, "before")
        rows, cursor = await transactional.messages_page(workspace_id, chosen, before)
        return page(request, LOG, partial=SEARCH, **_common(), rows=rows, cursor=cursor, before=before,
                    chosen=chosen, form=form, errors={})

    @get("/{message_id:int}", name="transactional_message")
    async def detail(self, workspace_id: int, message_id: int) -> Template:
        return Template(DETAIL, context={**_common(),
                                         "message": await transactional.message_of(workspace_id, message_id),
                                         "events": await transactional.message_events(workspace_id, message_id)})


CONTROLLERS: list[type[Controller]] = [TransactionalLogController]
