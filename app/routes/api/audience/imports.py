"""Imports through the API: from S3 or an upload, mapped as asked or as suggested, queued, followed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from litestar import Request, get, post
from litestar.openapi.spec import OpenAPIFormat, OpenAPIMediaType, OpenAPIType, Operation, RequestBody, Schema

from app.routes.api.audience.common import SUBSCRIBERS_WRITE, list_of
from app.routes.api.audience.shapes import ImportOut, S3ImportIn, import_out
from app.routes.imports import UPLOAD_MAX_BYTES
from app.services import imports
from app.services.imports import ImportProblem
from app.tasks.imports import run_import
from app.web.api_auth import ApiCaller, ApiController, error_responses


@dataclass
class _UploadOperation(Operation):
    """The upload's body in the schema: the handler streams it to disk itself rather than have it parsed."""

    def __post_init__(self) -> None:
        text = Schema(type=OpenAPIType.STRING)
        self.request_body = RequestBody(required=True, content={"multipart/form-data": OpenAPIMediaType(schema=Schema(
            type=OpenAPIType.OBJECT, required=["file"],
            properties={"file": Schema(type=OpenAPIType.STRING, format=OpenAPIFormat.BINARY), "mode": text,
                        "status": text, "has_header": text, "encoding": text, "delimiter": text,
                        "enrol_flows": text},
            additional_properties=text,
            description="The file (CSV or XLSX) and the import's options; `column_<n>` fields (from 0) map "
                        "columns as the S3 import's `columns` do.",
        ))})


def _columns(choices: dict[str, str]) -> dict[int, str]:
    if any(not key.isdigit() or len(key) > 6 for key in choices):
        raise ImportProblem("Name columns by their number, from 0.", field="columns")
    return {int(key): value for key, value in choices.items()}


async def _started(workspace_id: int, row: dict, options: dict[str, Any], columns: dict[int, str] | None,
                   suppression_list_id: int | None) -> dict:
    """The new import mapped (as asked, else as suggested) and queued; one that cannot start is discarded."""
    reading = imports.reading_options(options)
    try:
        if columns is None:
            analysis, _ = await imports.analyse_import(workspace_id, row, reading)
            columns = {column.index: column.suggestion for column in analysis.columns}
        started = await imports.start(workspace_id, row["id"], columns, str(options.get("mode") or "add"),
                                      {**reading, "status": options.get("status", "confirmed"),
                                       "enrol_flows": options.get("enrol_flows") in (True, "true", "yes")},
                                      suppression_list_id)
    except BaseException:
        await imports.discard_import(workspace_id, row["id"])
        raise
    run_import.send(workspace_id, row["id"])
    return started


def _reading(has_header: bool | str | None, encoding: str, delimiter: str) -> dict[str, str]:
    header = {True: "yes", False: "no"}.get(has_header, has_header) if has_header is not None else ""
    return {"has_header": header or "", "encoding": encoding, "delimiter": delimiter}


class ImportsController(ApiController):
    path = "/api/v1"
    tags = ["imports"]

    @post("/lists/{list_id:int}/imports", summary="Import from S3", operation_id="importFromS3", status_code=202,
          opt={"scope": SUBSCRIBERS_WRITE}, responses=error_responses(400, 403, 404, 422),
          description="Imports every object under an S3 prefix (or the one key named) into the list in the "
                      "background; follow it with `GET /api/v1/imports/{id}`. Scope `subscribers:write`.")
    async def from_s3(self, caller: ApiCaller, list_id: int, data: S3ImportIn) -> ImportOut:
        await list_of(caller.workspace_id, list_id)
        columns = _columns(data.columns) if data.columns is not None else None
        row = await imports.create_from_s3(caller.workspace_id, list_id, None, {
            "location": data.location, "region": data.region, "endpoint_url": data.endpoint_url,
            "access_key_id": data.access_key_id, "secret_access_key": data.secret_access_key})
        options = {**_reading(data.has_header, data.encoding, data.delimiter), "mode": data.mode,
                   "status": data.status, "enrol_flows": data.enrol_flows}
        return import_out(await _started(caller.workspace_id, row, options, columns, data.suppression_list_id))

    @post("/lists/{list_id:int}/imports/upload", summary="Import an uploaded file", operation_id="importUpload",
          status_code=202, opt={"scope": SUBSCRIBERS_WRITE}, request_max_body_size=UPLOAD_MAX_BYTES,
          operation_class=_UploadOperation, responses=error_responses(400, 403, 404, 422),
          description="Imports a CSV or XLSX file sent as multipart/form-data (`file`, and the options as fields) "
                      "into the list in the background; follow it with `GET /api/v1/imports/{id}`. "
                      "Scope `subscribers:write`.")
    async def upload(self, request: Request, caller: ApiCaller, list_id: int) -> ImportOut:
        await list_of(caller.workspace_id, list_id)
        content_type, options = request.content_type
        if content_type != "multipart/form-data" or not options.get("boundary"):
            raise ImportProblem("Send the file as multipart/form-data in a field named file.", field="file")
        received = await imports.receive_multipart(request.stream(), options["boundary"].encode(),
                                                   imports.incoming_folder())
        stored = await imports.keep_upload(caller.workspace_id, received)
        row = await imports.create_from_upload(caller.workspace_id, list_id, None, stored)
        fields = received.fields
        choices = {key.removeprefix("column_"): value for key, value in fields.items() if key.startswith("column_")}
        suppression_list = fields.get("suppression_list_id", "")
        return import_out(await _started(
            caller.workspace_id, row, {**_reading(fields.get("has_header"), fields.get("encoding", ""),
                                                  fields.get("delimiter", "")),
                                       "mode": fields.get("mode", "add"), "status": fields.get("status", "confirmed"),
                                       "enrol_flows": fields.get("enrol_flows", "")},
            _columns(choices) if choices else None,
            int(suppression_list) if suppression_list.isdigit() and len(suppression_list) < 10 else None))

    @get("/imports/{import_id:int}", summary="Get an import's progress", operation_id="getImport",
         opt={"scope": SUBSCRIBERS_WRITE}, responses=error_responses(400, 403, 404),
         description="Where an import stands: status, percent, rows seen, added, updated, skipped, invalid, "
                     "suppressed. Scope `subscribers:write`.")
    async def show(self, caller: ApiCaller, import_id: int) -> ImportOut:
        row = await imports.get_import(caller.workspace_id, import_id)
        if row is None:
            raise LookupError("import")
        return import_out(row)
