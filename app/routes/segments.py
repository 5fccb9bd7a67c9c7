"""Segments: the list with cached counts, and the builder with its live count and preview."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from litestar import Controller, Request, get, post
from litestar.plugins.flash import flash
from litestar.response import Redirect, Template
from redis.asyncio import Redis

from app.routes.portals import section_context
from app.services import audit, segments
from app.services.lists import STATUSES
from app.services.segments import SegmentError
from app.web.auth import signed_in
from app.web.pages import actor_of, on_form_error

PAGE = "mailing/segments/builder.html"
BUILDER = "mailing/segments/partials/builder.html"
LIVE = "mailing/segments/partials/live.html"
EMPTY_DEFINITION = {"name": "", "description": "", "list_ids": [], "conditions": {"match": "all", "rules": []}}


async def _form(request: Request) -> dict[str, Any]:
    form = await request.form()
    return segments.definition_from_form({key: str(value) for key, value in form.items()}, form.getall("list_ids", []))


async def _context(workspace_id: int, definition: Mapping[str, Any]) -> tuple[segments.Context, dict[str, str]]:
    """The workspace's lists, fields and tags; a definition naming foreign lists falls back to all lists."""
    try:
        return await segments.load_context(workspace_id, segments.chosen_list_ids(definition["list_ids"])), {}
    except SegmentError as exc:
        return await segments.load_context(workspace_id, []), exc.errors


async def _builder_context(workspace_id: int, definition: Mapping[str, Any], errors: dict | None = None) -> dict:
    """Everything the builder templates need, the live count included."""
    context, list_errors = await _context(workspace_id, definition)
    live = await segments.live(workspace_id, definition)
    return {
        "definition": definition, "tree": definition["conditions"], "context": context, "live": live,
        "errors": {**live.errors, **list_errors, **(errors or {})},
        "chosen_lists": set(context.list_ids) if definition["list_ids"] else set(),
        "statuses": STATUSES, "rule_kinds": segments.RULE_KINDS, "matches": segments.MATCHES,
        "max_depth": segments.MAX_GROUP_DEPTH, "no_value_ops": segments.NO_VALUE_OPS,
        "ops_for": segments.ops_for, "dom_id": segments.dom_id,
        "rule_keys": segments.node_keys(definition["conditions"]),
    }


async def _page_context(workspace_id: int, definition: Mapping[str, Any], segment: dict | None) -> dict:
    return {**section_context("mailing", "segments"), "segment": segment,
            **await _builder_context(workspace_id, definition)}


async def _page(workspace_id: int, definition: Mapping[str, Any], segment: dict | None = None) -> Template:
    return Template(PAGE, context=await _page_context(workspace_id, definition, segment))


async def _segment_of(workspace_id: int, segment_id: int) -> dict:
    found = await segments.get_segment(workspace_id, segment_id)
    if found is None:
        raise LookupError(segment_id)
    return found


class SegmentController(Controller):
    path = "/mailing/segments"
    guards = [signed_in]
    include_in_schema = False

    @get("/", name="segments")
    async def index(self, request: Request) -> Template:
        rows = await segments.list_segments(request.state.viewer.workspace_id)
        return Template("mailing/segments/index.html", context={**section_context("mailing", "segments"),
                                                                "segments": rows})

    @get("/new")
    async def new(self, workspace_id: int) -> Template:
        return await _page(workspace_id, EMPTY_DEFINITION)

    @get("/{segment_id:int}", name="segment_detail")
    async def edit(self, workspace_id: int, segment_id: int) -> Template:
        segment = await _segment_of(workspace_id, segment_id)
        return await _page(workspace_id, segment, segment)

    @post("/builder", opt={"action": "self"})
    async def builder(self, request: Request) -> Template:
        """Re-renders the conditions after a structural edit (add, remove, a new rule type or field)."""
        definition = await _form(request)
        action = str((await request.form()).get("action", ""))
        workspace_id = request.state.viewer.workspace_id
        context, _ = await _context(workspace_id, definition)
        tree = segments.fitted(segments.apply_action(definition["conditions"], action, context), context)
        return Template(BUILDER, context={**await _builder_context(workspace_id, {**definition, "conditions": tree}),
                                          "swap_live": True})

    @post("/count", opt={"action": "self"})
    async def count(self, request: Request) -> Template:
        """The live count and preview while editing; errors land next to their rules out of band."""
        definition = await _form(request)
        context = await _builder_context(request.state.viewer.workspace_id, definition)
        return Template(LIVE, context={**context, "rule_errors_oob": True})

    @post("/")
    async def create(self, request: Request, workspace_id: int, redis: Redis) -> Redirect:
        return await self._save(request, workspace_id, redis, None)

    @post("/{segment_id:int}")
    async def update(self, request: Request, segment_id: int, workspace_id: int, redis: Redis) -> Redirect:
        return await self._save(request, workspace_id, redis, await _segment_of(workspace_id, segment_id))

    async def _save(self, request: Request, workspace_id: int, redis: Redis, segment: dict | None) -> Redirect:
        definition = await _form(request)
        on_form_error(request, PAGE, lambda: _page_context(workspace_id, definition, segment), {})
        async with audit.change(redis, workspace_id, actor_of(request)) as change:
            saved = await segments.save_segment(workspace_id, definition, segment["id"] if segment else None)
            change.note("segment.updated" if segment else "segment.created", "segment", saved["id"],
                        {"name": saved["name"], "count": saved["cached_count"]})
        flash(request, f"Segment “{saved['name']}” saved: {saved['cached_count']:,} subscribers.", "success")
        return Redirect("/mailing/segments", status_code=303)

    @post("/{segment_id:int}/recount")
    async def recount(self, workspace_id: int, segment_id: int) -> Template:
        try:
            segment = await segments.recount(workspace_id, segment_id)
        except SegmentError as exc:
            # A list or field the segment relies on was deleted since it was saved: show it on the row.
            segment = {**await _segment_of(workspace_id, segment_id), "problem": str(exc)}
        return Template("mailing/segments/partials/row.html", context={"segment": segment})

    @post("/{segment_id:int}/delete")
    async def delete(self, request: Request, segment_id: int, workspace_id: int, redis: Redis) -> Redirect:
        async with audit.change(redis, workspace_id, actor_of(request)) as change:
            deleted = await segments.delete_segment(workspace_id, segment_id)
            change.note("segment.deleted", "segment", segment_id, {"name": deleted["name"]})
        flash(request, f"Segment “{deleted['name']}” deleted.", "info")
        return Redirect("/mailing/segments", status_code=303)
