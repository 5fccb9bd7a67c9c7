"""Mailing lists and their custom fields."""

from __future__ import annotations

from litestar import Controller, Request, get, post
from litestar.plugins.flash import flash
from litestar.response import Redirect, Template
from redis.asyncio import Redis

from app.routes.portals import section_context
from app.services import audit, custom_fields, lists
from app.services.lists import ListError
from app.services.subscriptions import public_form_url
from app.settings import get_settings
from app.tasks.audience import check_list_mx
from app.web.auth import signed_in
from app.web.charts import bars
from app.web.pages import actor_of, submitted

FORM = "mailing/lists/form.html"
FIELDS = "mailing/lists/partials/fields.html"


async def _list_of(workspace_id: int, list_id: int) -> dict:
    found = await lists.get_list(workspace_id, list_id)
    if found is None:
        raise LookupError(list_id)
    return found


async def _fields_context(workspace_id: int, list_id: int) -> dict:
    return {"mailing_list": await _list_of(workspace_id, list_id),
            "fields": await custom_fields.fields_of(workspace_id, list_id), "kinds": custom_fields.KINDS}


async def _fields_partial(workspace_id: int, list_id: int) -> Template:
    return Template(FIELDS, context={**await _fields_context(workspace_id, list_id), "errors": {}, "form": {}})


async def _set_archived(request: Request, workspace_id: int, redis: Redis, list_id: int, archived: bool) -> Redirect:
    async with audit.change(redis, workspace_id, actor_of(request)) as change:
        await lists.set_archived(workspace_id, list_id, archived)
        change.note("list.archived" if archived else "list.unarchived", "list", list_id)
    flash(request, "List archived." if archived else "List restored.", "info")
    return Redirect("/mailing/lists", status_code=303)


class ListController(Controller):
    path = "/mailing/lists"
    guards = [signed_in]
    include_in_schema = False

    @get("/", name="lists")
    async def index(self, workspace_id: int, archived: bool = False) -> Template:
        rows = await lists.lists_with_counts(workspace_id, include_archived=archived)
        return Template("mailing/lists/index.html", context={**section_context("mailing", "lists"), "lists": rows,
                                                             "show_archived": archived})

    @get("/new")
    async def new(self) -> Template:
        return Template(FORM, context={**section_context("mailing", "lists"), "form": {
            "opt_in": "single", "opt_out": "single"}, "errors": {}, "mailing_list": None})

    @post("/")
    async def create(self, request: Request, workspace_id: int, redis: Redis) -> Redirect:
        form = await submitted(request, FORM, {**section_context("mailing", "lists"), "mailing_list": None})
        async with audit.change(redis, workspace_id, actor_of(request)) as change:
            created = await lists.create_list(workspace_id, form)
            change.note("list.created", "list", created["id"], {"name": created["name"]})
        flash(request, f"List “{created['name']}” created. Add custom fields or import subscribers.", "success")
        return Redirect(f"/mailing/lists/{created['id']}", status_code=303)

    @get("/{list_id:int}", name="list_detail")
    async def show(self, workspace_id: int, list_id: int) -> Template:
        growth = await lists.growth(workspace_id, list_id)
        return Template("mailing/lists/show.html", context={
            **section_context("mailing", "lists"), "mailing_list": await _list_of(workspace_id, list_id),
            "counters": await lists.counters(workspace_id, list_id),
            "growth": growth, "growth_bars": bars([(p.day.isoformat(), p.joined) for p in growth]),
            "fields": await custom_fields.fields_of(workspace_id, list_id), "kinds": custom_fields.KINDS,
            "errors": {}, "form": {},
            "form_url": public_form_url(get_settings(), list_id),
        })

    @get("/{list_id:int}/edit")
    async def edit(self, workspace_id: int, list_id: int) -> Template:
        mailing_list = await _list_of(workspace_id, list_id)
        return Template(FORM, context={**section_context("mailing", "lists"),
                        "form": mailing_list, "errors": {}, "mailing_list": mailing_list})

    @post("/{list_id:int}")
    async def update(self, request: Request, list_id: int, workspace_id: int, redis: Redis) -> Redirect:
        mailing_list = await _list_of(workspace_id, list_id)
        form = await submitted(request, FORM, {**section_context("mailing", "lists"), "mailing_list": mailing_list})
        async with audit.change(redis, workspace_id, actor_of(request)) as change:
            await lists.update_list(workspace_id, list_id, form)
            change.note("list.updated", "list", list_id)
        flash(request, "List settings saved.", "success")
        return Redirect(f"/mailing/lists/{list_id}", status_code=303)

    @post("/{list_id:int}/archive")
    async def archive(self, request: Request, list_id: int, workspace_id: int, redis: Redis) -> Redirect:
        return await _set_archived(request, workspace_id, redis, list_id, archived=True)

    @post("/{list_id:int}/unarchive")
    async def unarchive(self, request: Request, list_id: int, workspace_id: int, redis: Redis) -> Redirect:
        return await _set_archived(request, workspace_id, redis, list_id, archived=False)

    @post("/{list_id:int}/delete")
    async def delete(self, request: Request, list_id: int, workspace_id: int, redis: Redis) -> Redirect:
        async with audit.change(redis, workspace_id, actor_of(request)) as change:
            deleted = await lists.delete_list(workspace_id, list_id)
            change.note("list.deleted", "list", list_id, {"name": deleted["name"]})
        flash(request, f"List “{deleted['name']}” deleted.", "info")
        return Redirect("/mailing/lists", status_code=303)

    @post("/{list_id:int}/copy")
    async def copy(self, request: Request, list_id: int, workspace_id: int, redis: Redis) -> Redirect:
        source = await _list_of(workspace_id, list_id)
        form = await request.form()
        name = str(form.get("name", "")).strip() or f"{source['name']} (copy)"
        async with audit.change(redis, workspace_id, actor_of(request)) as change:
            copied = await lists.copy_list(workspace_id, list_id, name, form.get("with_subscribers") == "on")
            change.note("list.copied", "list", copied["id"], {"from": list_id})
        flash(request, f"Copied to “{copied['name']}”.", "success")
        return Redirect(f"/mailing/lists/{copied['id']}", status_code=303)

    @post("/{list_id:int}/mx-check")
    async def mx_check(self, request: Request, list_id: int, workspace_id: int, redis: Redis) -> Redirect:
        await _list_of(workspace_id, list_id)
        check_list_mx.send(workspace_id, list_id)
        await audit.record(redis, workspace_id, actor_of(request), "list.mx_check_started", "list", list_id)
        flash(request, "MX check started. Subscribers on domains that cannot receive mail will be marked bounced; "
                       "the result appears in the activity feed.", "info")
        return Redirect(f"/mailing/lists/{list_id}", status_code=303)

    @post("/{list_id:int}/fields")
    async def add_field(self, request: Request, list_id: int, workspace_id: int, redis: Redis) -> Template:
        await _list_of(workspace_id, list_id)
        form = await submitted(request, FIELDS, lambda: _fields_context(workspace_id, list_id))
        async with audit.change(redis, workspace_id, actor_of(request)) as change:
            created = await custom_fields.add_field(workspace_id, list_id, form)
            change.note("field.created", "field", created["id"], {"tag": created["tag"]})
        return await _fields_partial(workspace_id, list_id)

    @post("/{list_id:int}/fields/{field_id:int}")
    async def update_field(self, request: Request, list_id: int, field_id: int, workspace_id: int,
                           redis: Redis) -> Template:
        form = await submitted(request, FIELDS, lambda: _fields_context(workspace_id, list_id))
        async with audit.change(redis, workspace_id, actor_of(request)) as change:
            try:
                await custom_fields.update_field(workspace_id, field_id, form)
            except ListError as exc:
                # The fields table edits every field in one page: name each message after its row.
                raise ListError({f"{field_id}_{k}": v for k, v in exc.errors.items()}) from exc
            change.note("field.updated", "field", field_id)
        return await _fields_partial(workspace_id, list_id)

    @post("/{list_id:int}/fields/{field_id:int}/delete")
    async def delete_field(self, request: Request, list_id: int, field_id: int, workspace_id: int,
                           redis: Redis) -> Template:
        async with audit.change(redis, workspace_id, actor_of(request)) as change:
            deleted = await custom_fields.delete_field(workspace_id, field_id)
            change.note("field.deleted", "field", field_id, {"tag": deleted["tag"]})
        return await _fields_partial(workspace_id, list_id)

    @post("/{list_id:int}/fields/{field_id:int}/move")
    async def move_field(self, request: Request, list_id: int, field_id: int, workspace_id: int) -> Template:
        form = await request.form()
        await custom_fields.move_field(workspace_id, field_id, -1 if form.get("direction") == "up" else 1)
        return await _fields_partial(workspace_id, list_id)

    @get("/{list_id:int}/fields", name="list_fields")
    async def fields(self, workspace_id: int, list_id: int) -> Template:
        return await _fields_partial(workspace_id, list_id)
