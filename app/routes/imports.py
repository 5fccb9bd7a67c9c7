"""Imports into a list (upload or S3, mapping, live progress, summary, rejects, discard) and list exports to CSV.

A service's ImportProblem re-renders the form it came from with the message next to its field (422), by
the app's one error path; the forms are remembered with `on_form_error` / `submitted` before the service runs.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from litestar import Controller, Request, get, post
from litestar.plugins.flash import flash
from litestar.response import Redirect, ServerSentEvent, ServerSentEventMessage, Stream, Template
from redis.asyncio import Redis

from app.routes.portals import section_context
from app.services import audit, custom_fields, exports, imports, lists, segments, suppression
from app.services.custom_fields import TAG_PATTERN as TAG
from app.services.imports import ImportProblem, ImportStateError
from app.services.lists import STATUSES
from app.tasks.imports import run_import
from app.web.auth import signed_in
from app.web.downloads import csv_download
from app.web.pages import actor_of, on_form_error, page, submitted

# Files this large stream to disk in the request; every other route keeps the app's small body limit.
UPLOAD_MAX_BYTES = 512 * 1024 * 1024
SSE_HEADERS = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
NEW = "mailing/imports/new.html"
MAPPING = "mailing/imports/mapping.html"
MAPPING_FORM = "mailing/imports/partials/mapping_form.html"
# Column numbers come from the form; no file has more columns than this many digits can count.
COLUMN_DIGITS = 6


async def _list_of(workspace_id: int, list_id: int) -> dict:
    found = await lists.get_list(workspace_id, list_id)
    if found is None:
        raise LookupError(list_id)
    return found


async def _import_of(workspace_id: int, import_id: int) -> dict:
    found = await imports.get_import(workspace_id, import_id)
    if found is None:
        raise LookupError(import_id)
    return found


def _new_context(mailing_list: dict) -> dict[str, Any]:
    return {**section_context("mailing", "lists"), "mailing_list": mailing_list, "errors": {}, "form": {},
            "max_mb": UPLOAD_MAX_BYTES >> 20}


async def _received(request: Request) -> imports.ReceivedUpload:
    """The uploaded file, streamed to disk by us, or by Litestar when it had to read the form for its CSRF token."""
    folder = imports.incoming_folder()
    content_type, options = request.content_type
    if content_type != "multipart/form-data" or not options.get("boundary"):
        raise ImportProblem("Choose a CSV or XLSX file to upload.", field="file")
    if request.headers.get("x-csrftoken"):
        return await imports.receive_multipart(request.stream(), options["boundary"].encode(), folder)
    upload = (await request.form()).get("file")
    if upload is None or isinstance(upload, str):
        raise ImportProblem("Choose a CSV or XLSX file to upload.", field="file")

    async def chunks() -> AsyncIterator[bytes]:
        while chunk := await upload.read(1 << 20):
            yield chunk

    return await imports.store_stream(chunks(), upload.filename, folder)


async def _progress_context(row: dict, redis: Redis) -> dict[str, Any]:
    alive = await imports.is_alive(redis, row["id"])
    return {"row": row, "state": imports.snapshot(row), "actions": imports.allowed_actions(row, alive),
            "modes": imports.MODES, "stalled": row["status"] == "running" and not alive}


async def _mapping_context(workspace_id: int, row: dict, chosen: dict[str, str]) -> dict[str, Any]:
    """The mapping page for the reading options in `chosen`; a file that cannot be read so shows why."""
    reading = imports.reading_options(chosen)
    analysis, fields, problem = await imports.mapping_preview(workspace_id, row, reading)
    return {
        **section_context("mailing", "lists"), "row": row, "reading": reading, "modes": imports.MODES,
        "mailing_list": await lists.get_list(workspace_id, row["list_id"]), "encodings": imports.ENCODINGS,
        "delimiters": imports.DELIMITER_NAMES, "errors": {"file": problem} if problem else {}, "form": chosen,
        "suppression_lists": await suppression.all_lists(workspace_id), "analysis": analysis, "fields": fields,
    }


async def _detail_page(request: Request, workspace_id: int, redis: Redis, row: dict, notice: str = "") -> Template:
    """The import page, or for HTMX just its live panel (which reconnects to the event stream while running)."""
    return page(request, "mailing/imports/show.html", partial="mailing/imports/partials/panel.html",
                **section_context("mailing", "lists"), **await _progress_context(row, redis), notice=notice,
                mailing_list=await lists.get_list(workspace_id, row["list_id"]))


ACTIONS = {"cancel": imports.cancel, "resume": imports.resume, "rollback": imports.rollback}


async def _act(request: Request, workspace_id: int, redis: Redis, import_id: int, action: str) -> Template:
    """Cancel, resume or roll back. These commit on their own connections and tell the live page at once, so
    the audit entry follows what they did rather than sharing a transaction with it."""
    try:
        row = await ACTIONS[action](workspace_id, import_id, redis)
    except ImportStateError as exc:  # e.g. a second tab acted first: show where things stand now
        return await _detail_page(request, workspace_id, redis, await _import_of(workspace_id, import_id), str(exc))
    if action == "resume":
        run_import.send(workspace_id, import_id)
    await audit.record(redis, workspace_id, actor_of(request), f"import.{action}", "import", import_id)
    return await _detail_page(request, workspace_id, redis, row)


def _csv_download(body: AsyncIterator[bytes], name: str) -> Stream:
    filename = "".join(c if c.isalnum() else "-" for c in name).strip("-") or "export"
    return csv_download(body, f"{filename}.csv")


def _choices(form: dict[str, str]) -> dict[int, str]:
    choices = {}
    for key, value in form.items():
        number = key.removeprefix("column_")
        if key.startswith("column_") and number.isdigit() and len(number) <= COLUMN_DIGITS:
            choices[int(number)] = value
    return choices


class ImportController(Controller):
    path = "/mailing"
    guards = [signed_in]
    include_in_schema = False

    @get("/lists/{list_id:int}/imports", name="list_imports")
    async def history(self, list_id: int, workspace_id: int) -> Template:
        mailing_list = await _list_of(workspace_id, list_id)
        rows = await imports.history(workspace_id, list_id)
        return Template("mailing/imports/history.html", context={
            **section_context("mailing", "lists"), "mailing_list": mailing_list, "imports": rows,
            "modes": imports.MODES})

    @get("/lists/{list_id:int}/imports/new", name="import_new")
    async def new(self, list_id: int, workspace_id: int) -> Template:
        return Template(NEW, context=_new_context(await _list_of(workspace_id, list_id)))

    @post("/lists/{list_id:int}/imports", request_max_body_size=UPLOAD_MAX_BYTES)
    async def upload(self, request: Request, list_id: int, workspace_id: int, redis: Redis) -> Redirect:
        # The body is the file, streamed to disk: there are no typed values to keep if it is refused.
        on_form_error(request, NEW, _new_context(await _list_of(workspace_id, list_id)), {})
        stored = await imports.keep_upload(workspace_id, await _received(request))
        async with audit.change(redis, workspace_id, actor_of(request)) as change:
            row = await imports.create_from_upload(workspace_id, list_id, request.state.viewer.user_id, stored)
            change.note("import.uploaded", "import", row["id"], {"file": row["filename"], "bytes": row["total_bytes"]})
        return Redirect(f"/mailing/imports/{row['id']}/mapping", status_code=303)

    @post("/lists/{list_id:int}/imports/s3")
    async def from_s3(self, request: Request, list_id: int, workspace_id: int, redis: Redis) -> Redirect:
        form = await submitted(request, NEW, _new_context(await _list_of(workspace_id, list_id)))
        async with audit.change(redis, workspace_id, actor_of(request)) as change:
            row = await imports.create_from_s3(workspace_id, list_id, request.state.viewer.user_id, form)
            change.note("import.created", "import", row["id"], {"location": row["location"],
                                                                 "bytes": row["total_bytes"]})
        return Redirect(f"/mailing/imports/{row['id']}/mapping", status_code=303)

    @get("/imports/{import_id:int}/mapping", name="import_mapping")
    async def mapping(self, request: Request, import_id: int, workspace_id: int) -> Template | Redirect:
        row = await _import_of(workspace_id, import_id)
        if row["mapping"] or row["status"] != "pending":
            return Redirect(f"/mailing/imports/{import_id}", status_code=303)
        context = await _mapping_context(workspace_id, row, dict(request.query_params))
        return page(request, MAPPING, partial=MAPPING_FORM, **context)

    @post("/imports/{import_id:int}/start")
    async def start(self, request: Request, import_id: int, workspace_id: int, redis: Redis) -> Redirect:
        row = await _import_of(workspace_id, import_id)
        form = await submitted(request, MAPPING, lambda: _mapping_context(workspace_id, row, form))
        suppression_list = form.get("suppression_list_id", "")
        try:
            async with audit.change(redis, workspace_id, actor_of(request)) as change:
                started = await imports.start(
                    workspace_id, import_id, _choices(form), form.get("mode", ""),
                    {**imports.reading_options(form), "status": form.get("status", "confirmed"),
                     "enrol_flows": form.get("enrol_flows") == "on"},
                    int(suppression_list) if suppression_list.isdigit() else None,
                )
                change.note("import.started", "import", import_id, {"mode": started["mode"]})
        except ImportStateError:  # started or cancelled from another tab: its page shows which
            return Redirect(f"/mailing/imports/{import_id}", status_code=303)
        run_import.send(workspace_id, import_id)
        return Redirect(f"/mailing/imports/{import_id}", status_code=303)

    @post("/imports/{import_id:int}/discard")
    async def discard(self, request: Request, import_id: int, workspace_id: int, redis: Redis) -> Redirect:
        try:
            async with audit.change(redis, workspace_id, actor_of(request)) as change:
                discarded = await imports.discard_import(workspace_id, import_id)
                change.note("import.discarded", "import", import_id, {"file": discarded["filename"]})
        except ImportStateError as exc:  # started from another tab meanwhile: its page shows where it is
            flash(request, str(exc), "error")
            return Redirect(f"/mailing/imports/{import_id}", status_code=303)
        flash(request, f"The import of “{discarded['filename']}” was discarded, with its file.", "info")
        return Redirect(f"/mailing/lists/{discarded['list_id']}/imports", status_code=303)

    @get("/imports/{import_id:int}", name="import_detail")
    async def show(self, request: Request, import_id: int, workspace_id: int, redis: Redis) -> Template:
        return await _detail_page(request, workspace_id, redis, await _import_of(workspace_id, import_id))

    @get("/imports/{import_id:int}/events", name="import_events")
    async def events(self, request: Request, import_id: int, workspace_id: int, redis: Redis) -> ServerSentEvent:
        await _import_of(workspace_id, import_id)
        template = request.app.template_engine.get_template("mailing/imports/partials/progress.html")

        async def stream() -> AsyncIterator[ServerSentEventMessage]:
            # Each message, and each quiet spell, re-reads the row: a stalled worker shows up as such.
            async for _ in imports.follow(redis, import_id):
                row = await imports.get_import(workspace_id, import_id)
                if row is None:
                    return
                yield ServerSentEventMessage(event="progress",
                                             data=template.render(**await _progress_context(row, redis)))
                if row["status"] in imports.FINISHED:
                    yield ServerSentEventMessage(event="done", data="finished")
                    return

        return ServerSentEvent(stream(), headers=SSE_HEADERS)

    @post("/imports/{import_id:int}/cancel")
    async def cancel(self, request: Request, import_id: int, workspace_id: int, redis: Redis) -> Template:
        return await _act(request, workspace_id, redis, import_id, "cancel")

    @post("/imports/{import_id:int}/resume")
    async def resume(self, request: Request, import_id: int, workspace_id: int, redis: Redis) -> Template:
        return await _act(request, workspace_id, redis, import_id, "resume")

    @post("/imports/{import_id:int}/rollback")
    async def rollback(self, request: Request, import_id: int, workspace_id: int, redis: Redis) -> Template:
        return await _act(request, workspace_id, redis, import_id, "rollback")

    @get("/imports/{import_id:int}/rejects.csv", name="import_rejects")
    async def rejects(self, import_id: int, workspace_id: int) -> Stream:
        row = await _import_of(workspace_id, import_id)
        return csv_download(imports.rejects_csv(workspace_id, import_id), f"import-{row['id']}-rejects.csv")

    @get("/lists/{list_id:int}/export", name="list_export", opt={"action": "export"})
    async def export_form(self, list_id: int, workspace_id: int) -> Template:
        mailing_list = await _list_of(workspace_id, list_id)
        return Template("mailing/imports/export.html", context={
            **section_context("mailing", "lists"), "mailing_list": mailing_list, "statuses": STATUSES,
            "fields": await custom_fields.fields_of(workspace_id, list_id)})

    @get("/lists/{list_id:int}/export.csv", opt={"action": "export"})
    async def export(self, request: Request, list_id: int, workspace_id: int, redis: Redis,
                     field: list[str] | None = None, status: list[str] | None = None) -> Stream:
        mailing_list = await _list_of(workspace_id, list_id)
        known = [f["tag"] for f in await custom_fields.fields_of(workspace_id, list_id)]
        tags = [tag for tag in known if tag in (field or [])]
        await audit.record(redis, workspace_id, actor_of(request), "list.exported", "list", list_id,
                           {"fields": tags, "statuses": status or []})
        selection = exports.list_selection(list_id, tuple(status or ()))
        return _csv_download(exports.subscribers_csv(workspace_id, selection, tags), mailing_list["name"])

    @get("/segments/{segment_id:int}/export.csv", opt={"action": "export"})
    async def export_segment(self, request: Request, segment_id: int, workspace_id: int, redis: Redis,
                             field: list[str] | None = None) -> Stream:
        segment = await segments.get_segment(workspace_id, segment_id)
        if segment is None:
            raise LookupError(segment_id)
        tags = [tag for tag in field or [] if TAG.fullmatch(tag)]
        selection = await exports.segment_selection(workspace_id, segment)
        await audit.record(redis, workspace_id, actor_of(request), "segment.exported", "segment", segment_id,
                           {"fields": tags})
        return _csv_download(exports.subscribers_csv(workspace_id, selection, tags), segment["name"])
