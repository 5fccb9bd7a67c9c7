"""The template library and editor: gallery, sanitised saving, sandboxed previews, checks, test sends."""

from __future__ import annotations

from litestar import Controller, Request, Response, get, post
from litestar.exceptions import NotFoundException
from litestar.plugins.flash import flash
from litestar.response import Redirect, Template

from app.db.audience import Subscriber
from app.redis_client import get_redis
from app.routes.portals import section_context
from app.services import audit, templates
from app.services.subscribers import SubscriberError, normalized_email
from app.services.templates import TemplateSaveError
from app.services.tenancy import owned_by
from app.web.auth import signed_in
from app.web.pages import SANDBOX_CSP, actor_of, form_values, page


async def _template_or_404(request: Request, template_id: int) -> dict:
    found = await templates.get_template(request.state.viewer.workspace_id, template_id)
    if found is None:
        raise NotFoundException()
    return found


async def _preview_subscriber(workspace_id: int, email: str) -> dict | None:
    try:
        address = normalized_email(email)
    except SubscriberError:
        return None
    return await Subscriber.select().where(owned_by(Subscriber, workspace_id), Subscriber.email == address).output(
        load_json=True
    ).first()


class TemplateController(Controller):
    path = "/mailing/templates"
    guards = [signed_in]
    include_in_schema = False

    @get("/", name="templates")
    async def index(self, request: Request, q: str = "", category: str = "", archived: bool = False) -> Template:
        workspace_id = request.state.viewer.workspace_id
        return page(request, "mailing/templates/index.html", partial="mailing/templates/partials/cards.html",
                    **section_context("mailing", "templates"),
                    templates=await templates.library(workspace_id, q, category, archived),
                    categories=await templates.categories(workspace_id), gallery=templates.GALLERY,
                    query=q, category=category, archived=archived)

    @post("/")
    async def create(self, request: Request) -> Redirect:
        form = await request.form()
        viewer = request.state.viewer
        layout = str(form.get("layout", ""))
        try:
            if layout:
                created = await templates.create_from_gallery(viewer.workspace_id, layout, viewer.user_id)
            else:
                created = await templates.create_template(viewer.workspace_id, {
                    "name": "Untitled template", "html": "<p>Hello {{ first_name }}</p>\n"
                    '<p><a href="{{ unsubscribe_url }}">Unsubscribe</a> · {{ physical_address }}</p>'}, viewer.user_id)
        except LookupError as exc:
            raise NotFoundException() from exc
        await audit.record(get_redis(), viewer.workspace_id, actor_of(request), "template.created", "template",
                           created["id"], {"layout": layout})
        return Redirect(f"/mailing/templates/{created['id']}", status_code=303)

    @get("/{template_id:int}", name="template_editor")
    async def editor(self, request: Request, template_id: int) -> Template:
        template = await _template_or_404(request, template_id)
        return Template("mailing/templates/editor.html", context={
            **section_context("mailing", "templates"), "template": template, "form": template, "errors": {},
            "removed": [], "checks": templates.content_checks(template)})

    @post("/{template_id:int}")
    async def save(self, request: Request, template_id: int) -> Template:
        template = await _template_or_404(request, template_id)
        form = form_values(await request.form())
        workspace_id = request.state.viewer.workspace_id
        try:
            saved, removed = await templates.save_template(workspace_id, template_id, form)
        except TemplateSaveError as exc:
            return Template("mailing/templates/editor.html", status_code=400, context={
                **section_context("mailing", "templates"), "template": template, "form": form,
                "errors": exc.errors, "removed": [], "checks": templates.content_checks(template)})
        await audit.record(get_redis(), workspace_id, actor_of(request), "template.saved", "template", template_id,
                           {"version": saved["version"], "removed": len(removed)})
        flash(request, f"Saved version {saved['version']}.", "success")
        return Template("mailing/templates/editor.html", context={
            **section_context("mailing", "templates"), "template": saved, "form": saved, "errors": {},
            "removed": removed, "checks": templates.content_checks(saved)})

    @get("/{template_id:int}/preview", name="template_preview")
    async def preview(self, request: Request, template_id: int, email: str = "") -> Response:
        template = await _template_or_404(request, template_id)
        subscriber = await _preview_subscriber(request.state.viewer.workspace_id, email) if email else None
        parts = templates.preview(template, subscriber)
        return Response(parts.html, media_type="text/html",
                        headers={"Content-Security-Policy": SANDBOX_CSP, "X-Content-Type-Options": "nosniff"})

    @get("/{template_id:int}/checks")
    async def checks(self, request: Request, template_id: int) -> Template:
        template = await _template_or_404(request, template_id)
        checks = templates.content_checks(template)
        return Template("mailing/templates/partials/checks.html", context={"checks": checks})

    @post("/{template_id:int}/test")
    async def send_test(self, request: Request, template_id: int) -> Template:
        template = await _template_or_404(request, template_id)
        form = await request.form()
        viewer = request.state.viewer
        try:
            recipients = templates.test_recipients(str(form.get("recipients", "")))
        except TemplateSaveError as exc:
            return Template("mailing/templates/partials/test_result.html", status_code=400,
                            context={"errors": exc.errors, "sent": 0, "recipients": []})
        sent = await templates.send_test(get_redis(), viewer.workspace_id, template, recipients)
        await audit.record(get_redis(), viewer.workspace_id, actor_of(request), "template.test_sent", "template",
                           template_id, {"recipients": len(recipients)})
        return Template("mailing/templates/partials/test_result.html",
                        context={"errors": {}, "sent": sent, "recipients": recipients})

    @post("/{template_id:int}/duplicate")
    async def duplicate(self, request: Request, template_id: int) -> Redirect:
        viewer = request.state.viewer
        try:
            copy = await templates.duplicate_template(viewer.workspace_id, template_id, viewer.user_id)
        except LookupError as exc:
            raise NotFoundException() from exc
        await audit.record(get_redis(), viewer.workspace_id, actor_of(request), "template.duplicated", "template",
                           copy["id"], {"from": template_id})
        return Redirect(f"/mailing/templates/{copy['id']}", status_code=303)

    @post("/{template_id:int}/archive")
    async def archive(self, request: Request, template_id: int) -> Redirect:
        form = await request.form()
        archived = form.get("restore") != "1"
        viewer = request.state.viewer
        try:
            await templates.set_archived(viewer.workspace_id, template_id, archived)
        except LookupError as exc:
            raise NotFoundException() from exc
        await audit.record(get_redis(), viewer.workspace_id, actor_of(request),
                           "template.archived" if archived else "template.restored", "template", template_id)
        flash(request, "Template archived." if archived else "Template restored.", "info")
        return Redirect("/mailing/templates", status_code=303)
