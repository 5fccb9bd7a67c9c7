"""Imports into a list (upload or S3, mapping, live progress, summary, rejects) and list exports to CSV."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from litestar import Controller, Request, get, post
from litestar.exceptions import ClientException, NotFoundException
from litestar.response import Redirect, ServerSentEvent, ServerSentEventMessage, Stream, Template

from app.redis_client import get_redis
from app.routes.portals import section_context
from app.services import audit, custom_fields, exports, imports, lists, segments, suppression
from app.services.custom_fields import TAG_PATTERN as TAG
from app.services.imports import ImportProblem, ImportStateError
from app.services.lists import STATUSES
from app.tasks.imports import run_import
from app.web.auth import signed_in
from app.web.pages import actor_of, form_errors, form_values, page

# Files this large stream to disk in the request; every other route keeps the app's small body limit.
UPLOAD_MAX_BYTES = 512 * 1024 * 1024
SSE_HEADERS = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}


async def _list_or_404(request: Request, list_id: int) -> dict:
    found = await lists.get_list(request.state.viewer.workspace_id, list_id)
    if found is None:
        raise NotFoundException()
    return found


async def _import_or_404(request: Request, import_id: int) -> dict:
    found = await imports.get_import(request.state.viewer.workspace_id, import_id)
    if found is None:
        raise NotFoundException()
    return found


def _new_page(request: Request, mailing_list: dict, errors: dict | None = None, form: dict | None = None,
              status_code: int = 200) -> Template:
    return page(request, "mailing/imports/new.html", status_code=status_code, **section_context("mailing", "lists"),
                mailing_list=mailing_list, errors=errors or {}, form=form or {}, max_mb=UPLOAD_MAX_BYTES >> 20)


async def _received(request: Request, workspace_id: int) -> imports.ReceivedUpload:
    """The uploaded file, streamed to disk by us, or by Litestar when it had to read the form for its CSRF token."""
    folder = imports.upload_folder(workspace_id)
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


async def _progress_context(row: dict) -> dict[str, Any]:
    alive = await imports.is_alive(get_redis(), row["id"])
    return {"row": row, "state": imports.snapshot(row), "actions": imports.allowed_actions(row, alive),
            "modes": imports.MODES, "stalled": row["status"] == "running" and not alive}


async def _mapping_page(request: Request, row: dict, errors: dict | None = None, form: dict | None = None,
                        status_code: int = 200) -> Template:
    workspace_id = request.state.viewer.workspace_id
    chosen = form or {}
    reading = imports.reading_options(chosen or dict(request.query_params))
    analysis, fields = None, []
    try:
        analysis, fields = await imports.analyse_import(workspace_id, row, reading)
    except ImportProblem as exc:
        errors = {**(errors or {}), "file": str(exc)}
    return page(
        request, "mailing/imports/mapping.html", partial="mailing/imports/partials/mapping_form.html",
        status_code=status_code, **section_context("mailing", "lists"), row=row, reading=reading,
        mailing_list=await lists.get_list(workspace_id, row["list_id"]), modes=imports.MODES,
        encodings=imports.ENCODINGS, delimiters=imports.DELIMITER_NAMES, errors=errors or {}, form=chosen,
        suppression_lists=await suppression.all_lists(workspace_id), analysis=analysis, fields=fields,
    )


async def _detail_page(request: Request, row: dict, notice: str = "") -> Template:
    """The import page, or for HTMX just its live panel (which reconnects to the event stream while running)."""
    return page(request, "mailing/imports/show.html", partial="mailing/imports/partials/panel.html",
                **section_context("mailing", "lists"), **await _progress_context(row), notice=notice,
                mailing_list=await lists.get_list(request.state.viewer.workspace_id, row["list_id"]))


ACTIONS = {"cancel": imports.cancel, "resume": imports.resume, "rollback": imports.rollback}


async def _act(request: Request, import_id: int, action: str) -> Template:
    viewer = request.state.viewer
    try:
        row = await ACTIONS[action](viewer.workspace_id, import_id, get_redis())
    except LookupError as exc:
        raise NotFoundException() from exc
    except ImportStateError as exc:  # e.g. a second tab acted first: show where things stand now
        return await _detail_page(request, await _import_or_404(request, import_id), notice=str(exc))
    if action == "resume":
        run_import.send(viewer.workspace_id, import_id)
    await audit.record(get_redis(), viewer.workspace_id, actor_of(request), f"import.{action}", "import", import_id)
    return await _detail_page(request, row)


def _csv_download(body: AsyncIterator[bytes], name: str) -> Stream:
    filename = "".join(c if c.isalnum() else "-" for c in name).strip("-") or "export"
    return Stream(body, media_type="text/csv; charset=utf-8",
                  headers={"Content-Disposition": f'attachment; filename="{filename}.csv"'})


def _choices(form: dict[str, str]) -> dict[int, str]:
    return {int(key.removeprefix("column_")): value for key, value in form.items()
            if key.startswith("column_") and key.removeprefix("column_").isdigit()}


class ImportController(Controller):
    path = "/mailing"
    guards = [signed_in]
    include_in_schema = False

    @get("/lists/{list_id:int}/imports", name="list_imports")
    async def history(self, request: Request, list_id: int) -> Template:
        mailing_list = await _list_or_404(request, list_id)
        rows = await imports.history(request.state.viewer.workspace_id, list_id)
        return Template("mailing/imports/history.html", context={
            **section_context("mailing", "lists"), "mailing_list": mailing_list, "imports": rows,
            "modes": imports.MODES})

    @get("/lists/{list_id:int}/imports/new", name="import_new")
    async def new(self, request: Request, list_id: int) -> Template:
        return _new_page(request, await _list_or_404(request, list_id))

    @post("/lists/{list_id:int}/imports", request_max_body_size=UPLOAD_MAX_BYTES)
    async def upload(self, request: Request, list_id: int) -> Template | Redirect:
        mailing_list = await _list_or_404(request, list_id)
        viewer = request.state.viewer
        try:
            received = await _received(request, viewer.workspace_id)
            row = await imports.create_from_upload(viewer.workspace_id, list_id, viewer.user_id, received)
        except ImportProblem as exc:
            return _new_page(request, mailing_list, form_errors(exc, "file"), status_code=400)
        await audit.record(get_redis(), viewer.workspace_id, actor_of(request), "import.uploaded", "import",
                           row["id"], {"file": row["filename"], "bytes": row["total_bytes"]})
        return Redirect(f"/mailing/imports/{row['id']}/mapping", status_code=303)

    @post("/lists/{list_id:int}/imports/s3")
    async def from_s3(self, request: Request, list_id: int) -> Template | Redirect:
        mailing_list = await _list_or_404(request, list_id)
        form = form_values(await request.form())
        viewer = request.state.viewer
        try:
            row = await imports.create_from_s3(viewer.workspace_id, list_id, viewer.user_id, form)
        except ImportProblem as exc:
            kept = {key: value for key, value in form.items() if key != "secret_access_key"}
            return _new_page(request, mailing_list, form_errors(exc, "location"), kept, status_code=400)
        await audit.record(get_redis(), viewer.workspace_id, actor_of(request), "import.created", "import",
                           row["id"], {"location": row["location"], "bytes": row["total_bytes"]})
        return Redirect(f"/mailing/imports/{row['id']}/mapping", status_code=303)

    @get("/imports/{import_id:int}/mapping", name="import_mapping")
    async def mapping(self, request: Request, import_id: int) -> Template | Redirect:
        row = await _import_or_404(request, import_id)
        if row["mapping"] or row["status"] != "pending":
            return Redirect(f"/mailing/imports/{import_id}", status_code=303)
        return await _mapping_page(request, row)

    @post("/imports/{import_id:int}/start")
    async def start(self, request: Request, import_id: int) -> Template | Redirect:
        row = await _import_or_404(request, import_id)
        form = form_values(await request.form())
        viewer = request.state.viewer
        suppression_list = form.get("suppression_list_id", "")
        try:
            started = await imports.start(
                viewer.workspace_id, import_id, _choices(form), form.get("mode", ""),
                {**imports.reading_options(form), "status": form.get("status", "confirmed")},
                int(suppression_list) if suppression_list.isdigit() else None,
            )
        except ImportStateError:
            return Redirect(f"/mailing/imports/{import_id}", status_code=303)
        except ImportProblem as exc:
            return await _mapping_page(request, row, form_errors(exc, "mapping"), form, status_code=400)
        run_import.send(viewer.workspace_id, import_id)
        await audit.record(get_redis(), viewer.workspace_id, actor_of(request), "import.started", "import",
                           import_id, {"mode": started["mode"]})
        return Redirect(f"/mailing/imports/{import_id}", status_code=303)

    @get("/imports/{import_id:int}", name="import_detail")
    async def show(self, request: Request, import_id: int) -> Template:
        return await _detail_page(request, await _import_or_404(request, import_id))

    @get("/imports/{import_id:int}/events", name="import_events")
    async def events(self, request: Request, import_id: int) -> ServerSentEvent:
        await _import_or_404(request, import_id)
        workspace_id = request.state.viewer.workspace_id
        template = request.app.template_engine.get_template("mailing/imports/partials/progress.html")

        async def stream() -> AsyncIterator[ServerSentEventMessage]:
            # Each message, and each quiet spell, re-reads the row: a stalled worker shows up as such.
            async for _ in imports.follow(get_redis(), import_id):
                row = await imports.get_import(workspace_id, import_id)
                if row is None:
                    return
                yield ServerSentEventMessage(event="progress", data=template.render(**await _progress_context(row)))
                if row["status"] in imports.FINISHED:
                    yield ServerSentEventMessage(event="done", data="finished")
                    return

        return ServerSentEvent(stream(), headers=SSE_HEADERS)

    @post("/imports/{import_id:int}/cancel")
    async def cancel(self, request: Request, import_id: int) -> Template:
        return await _act(request, import_id, "cancel")

    @post("/imports/{import_id:int}/resume")
    async def resume(self, request: Request, import_id: int) -> Template:
        return await _act(request, import_id, "resume")

    @post("/imports/{import_id:int}/rollback")
    async def rollback(self, request: Request, import_id: int) -> Template:
        return await _act(request, import_id, "rollback")

    @get("/imports/{import_id:int}/rejects.csv", name="import_rejects")
    async def rejects(self, request: Request, import_id: int) -> Stream:
        row = await _import_or_404(request, import_id)
        return Stream(imports.rejects_csv(request.state.viewer.workspace_id, import_id),
                      media_type="text/csv; charset=utf-8",
                      headers={"Content-Disposition": f'attachment; filename="import-{row["id"]}-rejects.csv"'})

    @get("/lists/{list_id:int}/export", name="list_export", opt={"action": "export"})
    async def export_form(self, request: Request, list_id: int) -> Template:
        mailing_list = await _list_or_404(request, list_id)
        return Template("mailing/imports/export.html", context={
            **section_context("mailing", "lists"), "mailing_list": mailing_list, "statuses": STATUSES,
            "fields": await custom_fields.fields_of(request.state.viewer.workspace_id, list_id)})

    @get("/lists/{list_id:int}/export.csv", opt={"action": "export"})
    async def export(self, request: Request, list_id: int,
                     field: list[str] | None = None, status: list[str] | None = None) -> Stream:
        mailing_list = await _list_or_404(request, list_id)
        workspace_id = request.state.viewer.workspace_id
        known = [f["tag"] for f in await custom_fields.fields_of(workspace_id, list_id)]
        tags = [tag for tag in known if tag in (field or [])]
        await audit.record(get_redis(), workspace_id, actor_of(request), "list.exported", "list", list_id,
                           {"fields": tags, "statuses": status or []})
        selection = exports.list_selection(list_id, tuple(status or ()))
        return _csv_download(exports.subscribers_csv(workspace_id, selection, tags), mailing_list["name"])

    @get("/segments/{segment_id:int}/export.csv", opt={"action": "export"})
    async def export_segment(self, request: Request, segment_id: int, field: list[str] | None = None) -> Stream:
        workspace_id = request.state.viewer.workspace_id
        segment = await segments.get_segment(workspace_id, segment_id)
        if segment is None:
            raise NotFoundException()
        tags = [tag for tag in field or [] if TAG.fullmatch(tag)]
        try:
            selection = await exports.segment_selection(workspace_id, segment)
        except segments.SegmentError as exc:
            raise ClientException(str(exc)) from exc
        await audit.record(get_redis(), workspace_id, actor_of(request), "segment.exported", "segment", segment_id,
                           {"fields": tags})
        return _csv_download(exports.subscribers_csv(workspace_id, selection, tags), segment["name"])
