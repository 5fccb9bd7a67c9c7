"""Mailing → Automations: the flow list, a new flow, the autoresponder shortcut, the editor (steps edited in
place, trigger, settings, Activate/Pause/Publish, moving waiting people, enrolling a list or segment), the
per-step report with who waits at a step, and the marketing limits every flow and campaign honours."""

from __future__ import annotations

from litestar import Controller, Request, get, post
from litestar.plugins.flash import flash
from litestar.response import Redirect, Template
from redis.asyncio import Redis

from app.routes.automation_pages import (
    EDITOR,
    INDEX,
    LIMITS,
    NEW,
    REPORT,
    SHORTCUT,
    STEPS,
    TRIGGER_FIELDS,
    choices,
    editor_context,
    index_context,
    limits_context,
    new_context,
    report_context,
    saved_steps_context,
    shortcut_context,
    steps_context,
)
from app.services import audit
from app.services.accounts import Viewer, now
from app.services.automations import editor, flow_forms, flows, limits, step_forms, triggers
from app.web.auth import signed_in
from app.web.pages import actor_of, form_values, is_htmx, on_form_error, submitted

SEND = {"action": "campaigns.send"}


def _flow_url(flow_id: int, tail: str = "") -> str:
    return f"/mailing/automations/{flow_id}{tail}"


class AutomationController(Controller):
    path = "/mailing/automations"
    guards = [signed_in]
    include_in_schema = False

    @get("/", name="automations")
    async def index(self, viewer: Viewer, workspace_id: int, before: int | None = None) -> Template:
        return Template(INDEX, context=await index_context(viewer, workspace_id, before))

    @get("/new", name="automation_new")
    async def new(self, viewer: Viewer, workspace_id: int) -> Template:
        return Template(NEW, context=await new_context(viewer, workspace_id))

    @post("/")
    async def create(self, request: Request, viewer: Viewer, workspace_id: int, redis: Redis) -> Redirect:
        form = await submitted(request, NEW, lambda: new_context(viewer, workspace_id))
        async with audit.change(redis, workspace_id, actor_of(request)) as change:
            created = await flows.create_flow(workspace_id, flow_forms.named_trigger_of_form(form))
            change.note("flow.created", "flow", created["id"], {"name": created["name"]})
        flash(request, f"“{created['name']}” is a draft: add its steps, then activate it.", "success")
        return Redirect(_flow_url(created["id"]), status_code=303)

    @post("/trigger-fields", opt={"action": "self"})
    async def trigger_fields(self, request: Request, workspace_id: int) -> Template:
        """The trigger's fields for the kind just chosen (nothing is saved)."""
        values = form_values(await request.form())
        return Template(TRIGGER_FIELDS, context={**await choices(workspace_id), "values": values, "errors": {}})

    @get("/autoresponder", name="automation_autoresponder")
    async def autoresponder(self, viewer: Viewer, workspace_id: int) -> Template:
        return Template(SHORTCUT, context=await shortcut_context(viewer, workspace_id))

    @post("/autoresponder", opt=SEND)
    async def create_autoresponder(self, request: Request, viewer: Viewer, workspace_id: int,
                                   redis: Redis) -> Redirect:
        form = await submitted(request, SHORTCUT, lambda: shortcut_context(viewer, workspace_id))
        async with audit.change(redis, workspace_id, actor_of(request)) as change:
            created = await flow_forms.create_autoresponder(workspace_id, form)
            change.note("flow.activated", "flow", created["id"], {"name": created["name"]})
        flash(request, f"“{created['name']}” is active: people who join from now on get the email.", "success")
        return Redirect(_flow_url(created["id"]), status_code=303)

    @get("/limits", name="automation_limits", opt=SEND)
    async def limits_page(self, viewer: Viewer, workspace_id: int) -> Template:
        return Template(LIMITS, context=await limits_context(viewer, workspace_id))

    @post("/limits", opt=SEND)
    async def save_limits(self, request: Request, viewer: Viewer, workspace_id: int, redis: Redis) -> Template:
        form = await submitted(request, LIMITS, lambda: limits_context(viewer, workspace_id))
        async with audit.change(redis, workspace_id, actor_of(request)) as change:
            saved = await limits.save_limits(workspace_id, form)
            change.note("marketing_limits.changed", details=saved)
        return Template(LIMITS, context={**await limits_context(viewer, workspace_id),
                                         "notice": "Marketing limits saved."})

    @get("/{flow_id:int}", name="automation_editor")
    async def show(self, viewer: Viewer, workspace_id: int, flow_id: int) -> Template:
        return Template(EDITOR, context=await editor_context(viewer, workspace_id, flow_id))

    @post("/{flow_id:int}/trigger")
    async def save_trigger(self, request: Request, viewer: Viewer, workspace_id: int, flow_id: int) -> Redirect:
        form = await submitted(request, EDITOR, lambda: editor_context(viewer, workspace_id, flow_id))
        saved = await flows.update_flow(workspace_id, flow_id, flow_forms.named_trigger_of_form(form))
        flash(request, "Trigger saved." if saved["status"] == "draft" else
              "Trigger saved in the draft: publish to use it.", "success")
        return Redirect(_flow_url(flow_id), status_code=303)

    @post("/{flow_id:int}/settings")
    async def save_settings(self, request: Request, viewer: Viewer, workspace_id: int, flow_id: int) -> Redirect:
        form = await submitted(request, EDITOR, lambda: editor_context(viewer, workspace_id, flow_id))
        saved = await flows.update_flow(workspace_id, flow_id, {"settings": flow_forms.settings_of_form(form)})
        flash(request, "Settings saved." if saved["status"] == "draft" else
              "Settings saved in the draft: publish to use them.", "success")
        return Redirect(_flow_url(flow_id), status_code=303)

    # --- steps, each change answered by the steps section again ---------------------------------------------

    @get("/{flow_id:int}/steps", name="automation_steps")
    async def steps(self, request: Request, viewer: Viewer, workspace_id: int, flow_id: int,
                    edit: str = "", kind: str = "", position: str = "") -> Template:
        """The steps, one of them open for editing, or a new step's form at a position (nothing is saved)."""
        adding = (_known(kind), position) if kind else None
        if is_htmx(request):
            return Template(STEPS, context=await steps_context(viewer, workspace_id, flow_id, edit, adding))
        return Template(EDITOR, context=await editor_context(viewer, workspace_id, flow_id, edit, adding))

    @post("/{flow_id:int}/step-form")
    async def step_form(self, request: Request, viewer: Viewer, workspace_id: int, flow_id: int) -> Template:
        """A step's form drawn again for the choice just made (the wait's mode, the condition's test); nothing
        is saved."""
        form = form_values(await request.form())
        step_id = form.get("step_id", "")
        adding = None if step_id else (_known(form.get("kind", "")), form.get("position", ""))
        context = await steps_context(viewer, workspace_id, flow_id, step_id, adding)
        return Template(STEPS, context={**context, "form": form})

    @post("/{flow_id:int}/steps")
    async def add_step(self, request: Request, viewer: Viewer, workspace_id: int, flow_id: int) -> Template:
        form = form_values(await request.form())
        kind, position = _known(form.get("kind", "")), form.get("position", "")
        on_form_error(request, STEPS, lambda: steps_context(viewer, workspace_id, flow_id,
                                                            adding=(kind, position)), form)
        flow = await flows.owned_flow(workspace_id, flow_id)
        steps, step_id = editor.add_step(editor.steps_of(flow), kind, position)
        steps = editor.replace_params(steps, step_id, step_forms.params_of_form(kind, form))
        await flows.save_steps(workspace_id, flow_id, steps)
        return Template(STEPS, context=await saved_steps_context(viewer, workspace_id, flow_id, step_id))

    @post("/{flow_id:int}/steps/{step_id:str}")
    async def save_step(self, request: Request, viewer: Viewer, workspace_id: int, flow_id: int,
                        step_id: str) -> Template:
        form = form_values(await request.form())
        on_form_error(request, STEPS, lambda: steps_context(viewer, workspace_id, flow_id, editing=step_id), form)
        flow = await flows.owned_flow(workspace_id, flow_id)
        steps = editor.steps_of(flow)
        kind = editor.step_of(steps, step_id)["kind"]
        changed = editor.replace_params(steps, step_id, step_forms.params_of_form(kind, form))
        await flows.save_steps(workspace_id, flow_id, changed)
        return Template(STEPS, context=await saved_steps_context(viewer, workspace_id, flow_id, step_id))

    @post("/{flow_id:int}/steps/{step_id:str}/{change:str}")
    async def change_step(self, request: Request, viewer: Viewer, workspace_id: int, flow_id: int, step_id: str,
                          change: str) -> Template:
        """Move up or down, duplicate or delete a step."""
        form = form_values(await request.form())
        on_form_error(request, STEPS, lambda: steps_context(viewer, workspace_id, flow_id), {})
        steps = editor.steps_of(await flows.owned_flow(workspace_id, flow_id))
        changed, shown = editor.changed(steps, step_id, change, form.get("direction", ""))
        await flows.save_steps(workspace_id, flow_id, changed)
        return Template(STEPS, context=await saved_steps_context(viewer, workspace_id, flow_id, shown))

    # --- lifecycle -------------------------------------------------------------------------------------------

    @post("/{flow_id:int}/activate", opt=SEND)
    async def activate(self, request: Request, viewer: Viewer, workspace_id: int, flow_id: int,
                       redis: Redis) -> Redirect:
        on_form_error(request, EDITOR, lambda: editor_context(viewer, workspace_id, flow_id), {})
        async with audit.change(redis, workspace_id, actor_of(request)) as change:
            flow = await flows.activate(workspace_id, flow_id)
            change.note("flow.activated", "flow", flow_id, {"name": flow["name"], "version": flow["version"]})
        flash(request, f"“{flow['name']}” is active (version {flow['version']}).", "success")
        return Redirect(_flow_url(flow_id), status_code=303)

    @post("/{flow_id:int}/publish", opt=SEND)
    async def publish(self, request: Request, viewer: Viewer, workspace_id: int, flow_id: int,
                      redis: Redis) -> Redirect:
        on_form_error(request, EDITOR, lambda: editor_context(viewer, workspace_id, flow_id), {})
        before = (await flows.owned_flow(workspace_id, flow_id))["version"]
        async with audit.change(redis, workspace_id, actor_of(request)) as change:
            flow = await flows.publish(workspace_id, flow_id)
            change.note("flow.published", "flow", flow_id, {"name": flow["name"], "version": flow["version"]})
        flash(request, f"Version {flow['version']} is published: people who enter from now on follow it; people "
                       f"already inside finish on version {before} unless you move them.", "success")
        return Redirect(_flow_url(flow_id), status_code=303)

    @post("/{flow_id:int}/pause", opt=SEND)
    async def pause(self, request: Request, workspace_id: int, flow_id: int, redis: Redis) -> Redirect:
        async with audit.change(redis, workspace_id, actor_of(request)) as change:
            flow = await flows.pause(workspace_id, flow_id)
            change.note("flow.paused", "flow", flow_id, {"name": flow["name"]})
        flash(request, f"“{flow['name']}” is paused: no one enters and the people inside wait where they are.",
              "info")
        return Redirect(_flow_url(flow_id), status_code=303)

    @post("/{flow_id:int}/migrate", opt=SEND)
    async def migrate(self, request: Request, viewer: Viewer, workspace_id: int,
                      flow_id: int) -> Redirect | Template:
        """Checked first, then asked to confirm (the form again with the question), then done."""
        form = await submitted(request, EDITOR, lambda: editor_context(viewer, workspace_id, flow_id))
        version, step = await flows.checked_migration(workspace_id, flow_id, form.get("from_version", ""),
                                                      form.get("to_step_id", ""))
        if form.get("confirmed") != "yes":
            return Template(EDITOR, context={**await editor_context(viewer, workspace_id, flow_id), "form": form,
                                             "migrate_confirm": True})
        moved = await flows.migrate_waiting(workspace_id, flow_id, version, step["id"], now=now())
        flash(request, f"{people(moved)} waiting on version {version} moved to step {step['id']} of the newest "
                       "version.", "success")
        return Redirect(_flow_url(flow_id), status_code=303)

    @post("/{flow_id:int}/enrol", opt=SEND)
    async def enrol(self, request: Request, viewer: Viewer, workspace_id: int, flow_id: int) -> Redirect:
        form = await submitted(request, EDITOR, lambda: editor_context(viewer, workspace_id, flow_id))
        audience = flow_forms.audience_of_form(form)
        enrolled = await triggers.enrol_audience(workspace_id, flow_id, **audience, now=now())
        flash(request, f"{people(enrolled)} enrolled.", "success")
        return Redirect(_flow_url(flow_id), status_code=303)

    @post("/{flow_id:int}/archive", opt=SEND)
    async def archive(self, request: Request, viewer: Viewer, workspace_id: int, flow_id: int,
                      redis: Redis) -> Redirect:
        async with audit.change(redis, workspace_id, actor_of(request)) as change:
            flow = await flows.archive(workspace_id, flow_id, now=now())
            change.note("flow.archived", "flow", flow_id, {"name": flow["name"]})
        flash(request, f"“{flow['name']}” is archived: the people inside left it and no one enters again.", "info")
        return Redirect("/mailing/automations", status_code=303)

    @post("/{flow_id:int}/duplicate")
    async def duplicate(self, request: Request, workspace_id: int, flow_id: int, redis: Redis) -> Redirect:
        async with audit.change(redis, workspace_id, actor_of(request)) as change:
            created = await flows.duplicate(workspace_id, flow_id)
            change.note("flow.created", "flow", created["id"], {"name": created["name"]})
        flash(request, f"“{created['name']}” is a draft copy: change it, then activate it.", "success")
        return Redirect(_flow_url(created["id"]), status_code=303)

    @post("/{flow_id:int}/discard")
    async def discard(self, request: Request, viewer: Viewer, workspace_id: int, flow_id: int) -> Redirect:
        on_form_error(request, EDITOR, lambda: editor_context(viewer, workspace_id, flow_id), {})
        flow = await flows.discard_draft(workspace_id, flow_id)
        flash(request, f"Draft changes discarded: the draft is version {flow['version']} again.", "info")
        return Redirect(_flow_url(flow_id), status_code=303)

    @post("/{flow_id:int}/delete")
    async def delete(self, request: Request, viewer: Viewer, workspace_id: int, flow_id: int,
                     redis: Redis) -> Redirect:
        on_form_error(request, EDITOR, lambda: editor_context(viewer, workspace_id, flow_id), {})
        async with audit.change(redis, workspace_id, actor_of(request)) as change:
            name = await flows.delete_draft(workspace_id, flow_id)
            change.note("flow.deleted", "flow", flow_id, {"name": name})
        flash(request, f"“{name}” is deleted.", "info")
        return Redirect("/mailing/automations", status_code=303)

    # --- reports ---------------------------------------------------------------------------------------------

    @get("/{flow_id:int}/report", name="automation_report")
    async def report(self, viewer: Viewer, workspace_id: int, flow_id: int, redis: Redis, step: str = "",
                     after: int | None = None) -> Template:
        return Template(REPORT, context=await report_context(viewer, workspace_id, flow_id, redis, step, after))


def _known(kind: str) -> str:
    """A kind of step the editor offers; anything else was not asked for by its forms."""
    if kind not in editor.KINDS:
        raise LookupError(f"no kind of step {kind!r}")
    return kind


def people(count: int) -> str:
    """“1 person”, “2 people”, “1,200 people”."""
    return f"{count:,} {'person' if count == 1 else 'people'}"

