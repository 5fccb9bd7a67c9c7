"""The template library and editor: gallery, sanitised saving, sandboxed previews, checks, test sends."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.plugins.flash import flash
from litestar.response import Redirect, Template
from redis.asyncio import Redis

from app.routes.portals import section_context
from app.services import audit, template_previews, templates
from app.web.auth import signed_in
from app.web.pages import SANDBOX_CSP, actor_of, page, submitted

EDITOR = "mailing/templates/editor.html"
TEST_SEND = "mailing/templates/partials/test_send.html"
PREVIEW_STAGE = "mailing/templates/partials/preview_stage.html"
BLANK = {"name": "Untitled template", "html": "<p>Hello {{ first_name }}</p>\n"
         '<p><a href="{{ unsubscribe_url }}">Unsubscribe</a> · {{ physical_address }}</p>'}
# Served to the preview frame: no script, no same-origin access, nothing sniffed.
FRAME_HEADERS = {"Content-Security-Policy": SANDBOX_CSP, "X-Content-Type-Options": "nosniff"}


async def _editor_context(template: dict, removed: list[str] | None = None) -> dict[str, Any]:
    return {**section_context("mailing", "templates"), "template": template, "form": template, "errors": {},
            "removed": removed or [], "checks": await template_previews.content_checks(template),
            "recipient": template_previews.PreviewRecipient("", None), "test": None}


class TemplateController(Controller):
    path = "/mailing/templates"
    guards = [signed_in]
    include_in_schema = False

    @get("/", name="templates")
    async def index(self, request: Request, workspace_id: int, q: str = "", category: str = "",
                    archived: bool = False) -> Template:
        return page(request, "mailing/templates/index.html", partial="mailing/templates/partials/cards.html",
                    **section_context("mailing", "templates"),
                    templates=await templates.library(workspace_id, q, category, archived),
                    categories=await templates.categories(workspace_id), gallery=templates.GALLERY,
                    query=q, category=category, archived=archived)

    @post("/")
    async def create(self, request: Request, workspace_id: int, redis: Redis) -> Redirect:
        layout = (await request.form()).get("layout", "")
        async with audit.change(redis, workspace_id, actor_of(request)) as change:
            if layout:
                created = await templates.create_from_gallery(workspace_id, str(layout), request.state.viewer.user_id)
            else:
                created = await templates.create_template(workspace_id, BLANK, request.state.viewer.user_id)
            change.note("template.created", "template", created["id"], {"layout": layout})
        return Redirect(f"/mailing/templates/{created['id']}", status_code=303)

    @get("/{template_id:int}", name="template_editor")
    async def editor(self, workspace_id: int, template_id: int) -> Template:
        template = await templates.template_of(workspace_id, template_id)
        return Template(EDITOR, context=await _editor_context(template))

    @post("/{template_id:int}")
    async def save(self, request: Request, workspace_id: int, template_id: int, redis: Redis) -> Template:
        template = await templates.template_of(workspace_id, template_id)
        form = await submitted(request, EDITOR, lambda: _editor_context(template))
        # Checked (compiled and rendered on a render thread) before the transaction opens, so a slow
        # template never holds a database connection.
        checked = await templates.checked_template(form)
        async with audit.change(redis, workspace_id, actor_of(request)) as change:
            saved = await templates.save_template(workspace_id, template_id, checked)
            change.note("template.saved", "template", template_id,
                        {"version": saved["version"], "removed": len(checked.removed)})
        flash(request, f"Saved version {saved['version']}.", "success")
        return Template(EDITOR, context=await _editor_context(saved, checked.removed))

    @get("/{template_id:int}/preview", name="template_preview")
    async def preview(self, workspace_id: int, template_id: int, email: str = "") -> Response:
        template = await templates.template_of(workspace_id, template_id)
        recipient = await template_previews.preview_recipient(workspace_id, email)
        shown = await template_previews.preview(template, recipient.subscriber)
        if shown.parts is None:
            return Template("mailing/templates/preview_problem.html", context={"problem": shown.problem},
                            status_code=422, headers=FRAME_HEADERS)
        return Response(shown.parts.html, media_type="text/html", headers=FRAME_HEADERS)

    @get("/{template_id:int}/preview-as")
    async def preview_as(self, workspace_id: int, template_id: int, email: str = "") -> Template:
        template = await templates.template_of(workspace_id, template_id)
        recipient = await template_previews.preview_recipient(workspace_id, email)
        return Template(PREVIEW_STAGE, context={"template": template, "recipient": recipient})

    @get("/{template_id:int}/checks")
    async def checks(self, workspace_id: int, template_id: int) -> Template:
        template = await templates.template_of(workspace_id, template_id)
        checks = await template_previews.content_checks(template)
        return Template("mailing/templates/partials/checks.html", context={"checks": checks})

    @post("/{template_id:int}/test")
    async def send_test(self, request: Request, workspace_id: int, template_id: int, redis: Redis) -> Template:
        template = await templates.template_of(workspace_id, template_id)
        form = await submitted(request, TEST_SEND, {"template": template, "test": None})
        test = await template_previews.send_test(redis, workspace_id, template, form)
        await audit.record(redis, workspace_id, actor_of(request), "template.test_sent", "template", template_id,
                           {"recipients": len(test.recipients)})
        return Template(TEST_SEND, context={"template": template, "form": form, "errors": {}, "test": test})

    @post("/{template_id:int}/duplicate")
    async def duplicate(self, request: Request, workspace_id: int, template_id: int, redis: Redis) -> Redirect:
        async with audit.change(redis, workspace_id, actor_of(request)) as change:
            copy = await templates.duplicate_template(workspace_id, template_id, request.state.viewer.user_id)
            change.note("template.duplicated", "template", copy["id"], {"from": template_id})
        return Redirect(f"/mailing/templates/{copy['id']}", status_code=303)

    @post("/{template_id:int}/archive")
    async def archive(self, request: Request, workspace_id: int, template_id: int, redis: Redis) -> Redirect:
        archived = (await request.form()).get("restore") != "1"
        async with audit.change(redis, workspace_id, actor_of(request)) as change:
            await templates.set_archived(workspace_id, template_id, archived)
            change.note("template.archived" if archived else "template.restored", "template", template_id)
        flash(request, "Template archived." if archived else "Template restored.", "info")
        return Redirect("/mailing/templates", status_code=303)
