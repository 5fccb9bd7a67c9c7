"""Suppression: the blacklist and named suppression lists, their entries, paste-to-add and CSV export."""

from __future__ import annotations

import re

from litestar import Controller, Request, get, post
from litestar.exceptions import NotFoundException
from litestar.plugins.flash import flash
from litestar.response import Redirect, Stream, Template

from app.redis_client import get_redis
from app.routes.portals import section_context
from app.services import audit, suppression
from app.services.suppression import AddSummary, SuppressionError
from app.web.auth import signed_in
from app.web.pages import actor_of, page

ENTRIES = "mailing/suppression/partials/entries.html"
# Enough of the rejected lines to spot the pattern without flooding the page.
INVALID_SHOWN = 20


async def _list_or_404(request: Request, list_id: int) -> dict:
    found = await suppression.get_list(request.state.viewer.workspace_id, list_id)
    if found is None:
        raise NotFoundException()
    return found


async def _list_page(request: Request, list_id: int, q: str = "", after: str = "", summary: AddSummary | None = None,
                     errors: dict | None = None, status_code: int = 200) -> Template:
    """The list page, or only its entries area when HTMX searches, pages, adds or removes."""
    found = await _list_or_404(request, list_id)
    entries, cursor = await suppression.search(request.state.viewer.workspace_id, list_id, q, after)
    return page(request, "mailing/suppression/show.html", partial=ENTRIES, status_code=status_code,
                **section_context("mailing", "suppression"), suppression_list=found, entries=entries, cursor=cursor,
                q=q, after=after, summary=summary, invalid_shown=INVALID_SHOWN, kind_labels=suppression.KIND_LABELS,
                errors=errors or {})


class SuppressionController(Controller):
    path = "/mailing/suppression"
    guards = [signed_in]
    include_in_schema = False

    @get("/", name="suppression")
    async def index(self, request: Request) -> Template:
        return await self._index(request)

    async def _index(self, request: Request, errors: dict | None = None, form: dict | None = None,
                     status_code: int = 200) -> Template:
        rows = await suppression.all_lists(request.state.viewer.workspace_id)
        return Template("mailing/suppression/index.html", status_code=status_code, context={
            **section_context("mailing", "suppression"), "lists": rows, "errors": errors or {}, "form": form or {}})

    @post("/")
    async def create(self, request: Request) -> Template | Redirect:
        form = await request.form()
        values = {"name": str(form.get("name", "")), "description": str(form.get("description", ""))}
        workspace_id = request.state.viewer.workspace_id
        try:
            created = await suppression.create_list(workspace_id, values["name"], values["description"])
        except SuppressionError as exc:
            return await self._index(request, exc.errors, values, status_code=400)
        await audit.record(get_redis(), workspace_id, actor_of(request), "suppression_list.created",
                           "suppression_list", created["id"], {"name": created["name"]})
        flash(request, f"Suppression list “{created['name']}” created. Paste addresses, hashes or domains into it.",
              "success")
        return Redirect(f"/mailing/suppression/{created['id']}", status_code=303)

    @get("/{list_id:int}", name="suppression_list")
    async def show(self, request: Request, list_id: int, q: str = "", after: str = "") -> Template:
        return await _list_page(request, list_id, q, after)

    @post("/{list_id:int}/entries")
    async def add(self, request: Request, list_id: int) -> Template:
        await _list_or_404(request, list_id)
        form = await request.form()
        workspace_id = request.state.viewer.workspace_id
        text = str(form.get("entries", ""))
        if not text.strip():
            return await _list_page(request, list_id, errors={"entries": "Paste at least one line."}, status_code=400)
        summary = await suppression.add_pasted(workspace_id, list_id, text, str(form.get("reason", "")))
        await audit.record(get_redis(), workspace_id, actor_of(request), "suppression.entries_added",
                           "suppression_list", list_id, {"added": summary.added, "already_present":
                                                         summary.already_present, "invalid": len(summary.invalid)})
        return await _list_page(request, list_id, summary=summary)

    @post("/{list_id:int}/entries/{entry_id:int}/remove")
    async def remove(self, request: Request, list_id: int, entry_id: int) -> Template:
        workspace_id = request.state.viewer.workspace_id
        try:
            removed = await suppression.remove_entry(workspace_id, list_id, entry_id)
        except LookupError as exc:
            raise NotFoundException() from exc
        await audit.record(get_redis(), workspace_id, actor_of(request), "suppression.entry_removed",
                           "suppression_list", list_id, {"kind": removed["kind"], "value": removed["value"]})
        form = await request.form()
        return await _list_page(request, list_id, str(form.get("q", "")))

    @post("/{list_id:int}/rename")
    async def rename(self, request: Request, list_id: int) -> Template | Redirect:
        found = await _list_or_404(request, list_id)
        form = await request.form()
        workspace_id = request.state.viewer.workspace_id
        try:
            renamed = await suppression.rename_list(workspace_id, list_id, str(form.get("name", "")),
                                                    str(form.get("description", "")))
        except SuppressionError as exc:
            return await _list_page(request, list_id, errors=exc.errors, status_code=400)
        await audit.record(get_redis(), workspace_id, actor_of(request), "suppression_list.renamed",
                           "suppression_list", list_id, {"from": found["name"], "to": renamed["name"]})
        flash(request, "Saved.", "success")
        return Redirect(f"/mailing/suppression/{list_id}", status_code=303)

    @post("/{list_id:int}/delete")
    async def delete(self, request: Request, list_id: int) -> Redirect:
        workspace_id = request.state.viewer.workspace_id
        try:
            deleted = await suppression.delete_list(workspace_id, list_id)
        except LookupError as exc:
            raise NotFoundException() from exc
        except SuppressionError as exc:
            flash(request, str(exc), "error")
            return Redirect(f"/mailing/suppression/{list_id}", status_code=303)
        await audit.record(get_redis(), workspace_id, actor_of(request), "suppression_list.deleted",
                           "suppression_list", list_id, {"name": deleted["name"], "entries": deleted["entry_count"]})
        flash(request, f"Suppression list “{deleted['name']}” deleted.", "info")
        return Redirect("/mailing/suppression", status_code=303)

    @get("/{list_id:int}/export")
    async def export(self, request: Request, list_id: int) -> Stream:
        found = await _list_or_404(request, list_id)
        workspace_id = request.state.viewer.workspace_id
        await audit.record(get_redis(), workspace_id, actor_of(request), "suppression_list.exported",
                           "suppression_list", list_id, {"entries": found["entry_count"]})
        filename = re.sub(r"[^A-Za-z0-9_-]+", "-", found["name"]).strip("-").lower() or "suppression"
        return Stream(suppression.export_csv(workspace_id, list_id), media_type="text/csv; charset=utf-8",
                      headers={"Content-Disposition": f'attachment; filename="{filename}.csv"'})
