"""Suppression: the blacklist and named suppression lists, their entries, paste-to-add and CSV export."""

from __future__ import annotations

import re

from litestar import Controller, Request, get, post
from litestar.plugins.flash import flash
from litestar.response import Redirect, Stream, Template
from redis.asyncio import Redis

from app.routes.portals import section_context
from app.services import audit, suppression
from app.services.suppression import AddSummary
from app.web.auth import signed_in
from app.web.downloads import csv_download
from app.web.pages import actor_of, page, submitted
from app.web.params import keyset_param

INDEX = "mailing/suppression/index.html"
ENTRIES = "mailing/suppression/partials/entries.html"
# Enough of the rejected lines to spot the pattern without flooding the page.
INVALID_SHOWN = 20


async def _list_of(workspace_id: int, list_id: int) -> dict:
    found = await suppression.get_list(workspace_id, list_id)
    if found is None:
        raise LookupError(list_id)
    return found


async def _list_context(request: Request, workspace_id: int, list_id: int, q: str = "", after: str = "",
                        summary: AddSummary | None = None) -> dict:
    found = await _list_of(workspace_id, list_id)
    entries, cursor = await suppression.search(workspace_id, list_id, q, after)
    return {**section_context("mailing", "suppression"), "suppression_list": found, "entries": entries,
            "cursor": cursor, "q": q, "after": after, "summary": summary, "invalid_shown": INVALID_SHOWN,
            "kind_labels": suppression.KIND_LABELS, "errors": {}, "form": {}}


async def _list_page(request: Request, workspace_id: int, list_id: int, q: str = "", after: str = "",
                     summary: AddSummary | None = None) -> Template:
    """The list page, or only its entries area when HTMX searches, pages, adds or removes."""
    return page(request, "mailing/suppression/show.html", partial=ENTRIES,
                **await _list_context(request, workspace_id, list_id, q, after, summary))


async def _index_context(workspace_id: int) -> dict:
    return {**section_context("mailing", "suppression"), "lists": await suppression.all_lists(workspace_id)}


class SuppressionController(Controller):
    path = "/mailing/suppression"
    guards = [signed_in]
    include_in_schema = False

    @get("/", name="suppression")
    async def index(self, workspace_id: int) -> Template:
        return Template(INDEX, context={**await _index_context(workspace_id), "errors": {}, "form": {}})

    @post("/")
    async def create(self, request: Request, workspace_id: int, redis: Redis) -> Redirect:
        form = await submitted(request, INDEX, lambda: _index_context(workspace_id))
        async with audit.change(redis, workspace_id, actor_of(request)) as change:
            created = await suppression.create_list(workspace_id, form.get("name", ""), form.get("description", ""))
            change.note("suppression_list.created", "suppression_list", created["id"], {"name": created["name"]})
        flash(request, f"Suppression list “{created['name']}” created. Paste addresses, hashes or domains into it.",
              "success")
        return Redirect(f"/mailing/suppression/{created['id']}", status_code=303)

    @get("/{list_id:int}", name="suppression_list")
    async def show(self, request: Request, workspace_id: int, list_id: int, q: str = "", after: str = "") -> Template:
        keyset_param({"after": after})
        return await _list_page(request, workspace_id, list_id, q, after)

    @post("/{list_id:int}/entries")
    async def add(self, request: Request, list_id: int, workspace_id: int, redis: Redis) -> Template:
        form = await submitted(request, ENTRIES, lambda: _list_context(request, workspace_id, list_id))
        await _list_of(workspace_id, list_id)
        async with audit.change(redis, workspace_id, actor_of(request)) as change:
            summary = await suppression.add_pasted(workspace_id, list_id, form.get("entries", ""),
                                                   form.get("reason", ""))
            change.note("suppression.entries_added", "suppression_list", list_id, {
                "added": summary.added, "already_present": summary.already_present, "invalid": len(summary.invalid)})
        return await _list_page(request, workspace_id, list_id, summary=summary)

    @post("/{list_id:int}/entries/{entry_id:int}/remove")
    async def remove(self, request: Request, list_id: int, entry_id: int, workspace_id: int,
                     redis: Redis) -> Template:
        async with audit.change(redis, workspace_id, actor_of(request)) as change:
            removed = await suppression.remove_entry(workspace_id, list_id, entry_id)
            change.note("suppression.entry_removed", "suppression_list", list_id,
                        {"kind": removed["kind"], "value": removed["value"]})
        form = await request.form()
        return await _list_page(request, workspace_id, list_id, str(form.get("q", "")))

    @post("/{list_id:int}/rename")
    async def rename(self, request: Request, list_id: int, workspace_id: int, redis: Redis) -> Redirect:
        found = await _list_of(workspace_id, list_id)
        form = await submitted(request, "mailing/suppression/show.html",
                               lambda: _list_context(request, workspace_id, list_id))
        async with audit.change(redis, workspace_id, actor_of(request)) as change:
            renamed = await suppression.rename_list(workspace_id, list_id, form.get("name", ""),
                                                    form.get("description", ""))
            change.note("suppression_list.renamed", "suppression_list", list_id,
                        {"from": found["name"], "to": renamed["name"]})
        flash(request, "Saved.", "success")
        return Redirect(f"/mailing/suppression/{list_id}", status_code=303)

    @post("/{list_id:int}/delete")
    async def delete(self, request: Request, list_id: int, workspace_id: int, redis: Redis) -> Redirect:
        async with audit.change(redis, workspace_id, actor_of(request)) as change:
            deleted = await suppression.delete_list(workspace_id, list_id)
            change.note("suppression_list.deleted", "suppression_list", list_id,
                        {"name": deleted["name"], "entries": deleted["entry_count"]})
        flash(request, f"Suppression list “{deleted['name']}” deleted.", "info")
        return Redirect("/mailing/suppression", status_code=303)

    @get("/{list_id:int}/export")
    async def export(self, request: Request, list_id: int, workspace_id: int, redis: Redis) -> Stream:
        found = await _list_of(workspace_id, list_id)
        await audit.record(redis, workspace_id, actor_of(request), "suppression_list.exported",
                           "suppression_list", list_id, {"entries": found["entry_count"]})
        filename = re.sub(r"[^A-Za-z0-9_-]+", "-", found["name"]).strip("-").lower() or "suppression"
        return csv_download(suppression.export_csv(workspace_id, list_id), f"{filename}.csv")
