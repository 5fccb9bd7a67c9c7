"""Lists to import into, files written by the tests, and a one-call import through the service."""

from __future__ import annotations

import asyncio
import json
import shutil
import uuid
from pathlib import Path

from app.redis_client import get_redis
from app.services import imports
from app.services.imports import ReceivedUpload
from tests.factories import prime_csrf


async def make_list(db, workspace_id: int, name: str = "Customers", fields: tuple[dict, ...] = ()) -> int:
    """A list with custom fields; each field a dict with tag, label, kind and optionally required/default/options."""
    list_id = await db.fetchval("INSERT INTO lists (workspace_id, name) VALUES ($1, $2) RETURNING id",
                                workspace_id, name)
    for position, field in enumerate(fields):
        await db.execute(
            "INSERT INTO list_fields (workspace_id, list_id, tag, label, kind, required, default_value, options, "
            "position) VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9)",
            workspace_id, list_id, field["tag"], field.get("label", field["tag"].title()), field.get("kind", "text"),
            field.get("required", False), field.get("default", ""), json.dumps(field.get("options", [])), position)
    return list_id


async def upload(workspace_id: int, list_id: int, path: Path) -> dict:
    """An import created as the web does after streaming the upload into the incoming folder."""
    received = await asyncio.to_thread(_received, path)
    stored = await imports.keep_upload(workspace_id, received)
    return await imports.create_from_upload(workspace_id, list_id, None, stored)


def _received(path: Path) -> ReceivedUpload:
    arriving = imports.incoming_folder() / f"{uuid.uuid4().hex}{path.suffix.lower()}"
    shutil.copyfile(path, arriving)
    return ReceivedUpload(path=arriving, filename=path.name, size=arriving.stat().st_size)


async def start_suggested(workspace_id: int, row: dict, mode: str = "add", options: dict | None = None,
                          choices: dict | None = None) -> dict:
    analysis, _ = await imports.analyse_import(workspace_id, row, options or {})
    picked = choices if choices is not None else {c.index: c.suggestion for c in analysis.columns}
    return await imports.start(workspace_id, row["id"], picked, mode, options or {})


async def import_file(workspace_id: int, list_id: int, path: Path, mode: str = "add", options: dict | None = None,
                      choices: dict | None = None, batch_rows: int = 10_000) -> dict:
    row = await start_suggested(workspace_id, await upload(workspace_id, list_id, path), mode, options, choices)
    return await imports.run_import(workspace_id, row["id"], get_redis(), batch_rows=batch_rows)


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


async def web_upload(client, list_id: int, filename: str, body: bytes):
    """The upload as htmx sends it: the CSRF token in a header, so the body streams straight to disk."""
    token = await prime_csrf(client)
    return await client.post(f"/mailing/lists/{list_id}/imports", headers={"x-csrftoken": token},
                             files={"file": (filename, body, "application/octet-stream")})


def stored_file(row: dict) -> Path:
    """Where the shared store (a directory, in these tests) keeps an import's upload."""
    from app.services.shared_files import shared_files

    return shared_files().path(row["location"])
