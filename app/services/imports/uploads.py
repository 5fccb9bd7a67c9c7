"""Receiving an uploaded file straight onto disk, chunk by chunk, so a 200 MB upload never sits in memory;
checking it; and handing it to the shared store, where every worker can read it."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

from botocore.exceptions import BotoCoreError, ClientError
from multipart import MultipartError, MultipartSegment, PushMultipartParser

from app.services.imports.errors import ImportProblem
from app.services.imports.formats import SAMPLE_BYTES, detect_encoding
from app.services.imports.limits import check_workbook
from app.services.imports.sources import upload_key
from app.services.imports.spreadsheets import is_xlsx
from app.services.shared_files import shared_files

# Form fields beside the file are short (a CSRF token, a list id); anything longer is refused.
MAX_FIELD_BYTES = 64 * 1024
SAFE_SUFFIX = re.compile(r"\.[a-z0-9]{1,5}")
ALLOWED_SUFFIXES = (".csv", ".txt", ".tsv", ".xlsx", ".xlsm", ".tab", ".dat")


@dataclass
class ReceivedUpload:
    path: Path | None = None
    filename: str = ""
    size: int = 0
    fields: dict[str, str] = field(default_factory=dict)


def incoming_folder() -> Path:
    """Where an upload is written while it arrives, before its checks."""
    return shared_files().incoming()


def _stored_path(folder: Path, filename: str) -> Path:
    """A server-chosen name; the marketer's file name is kept only for display."""
    suffix = Path(filename).suffix.lower()
    if not SAFE_SUFFIX.fullmatch(suffix):
        suffix = ""
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{uuid.uuid4().hex}{suffix}"


def display_name(filename: str) -> str:
    return Path(filename.replace("\\", "/")).name[:255] or "upload.csv"


async def store_stream(chunks: AsyncIterator[bytes], filename: str, folder: Path) -> ReceivedUpload:
    """Write a plain stream of bytes to a new file under `folder`."""
    path = _stored_path(folder, filename)
    size = 0
    with path.open("wb") as target:
        async for chunk in chunks:
            target.write(chunk)
            size += len(chunk)
    return ReceivedUpload(path=path, filename=display_name(filename), size=size)


async def receive_multipart(chunks: AsyncIterator[bytes], boundary: bytes, folder: Path) -> ReceivedUpload:
    """Parse a multipart/form-data body as it streams in: the first file goes to disk, other fields to memory."""
    received = ReceivedUpload()
    segment: MultipartSegment | None = None
    target = None
    value = bytearray()
    try:
        with PushMultipartParser(boundary, max_segment_count=50) as parser:
            async for chunk in chunks:
                for event in parser.parse(chunk):
                    if isinstance(event, MultipartSegment):
                        segment = event
                        if segment.filename and received.path is None:
                            received.path = _stored_path(folder, segment.filename)
                            received.filename = display_name(segment.filename)
                            target = received.path.open("wb")
                    elif event:
                        if target is not None:
                            target.write(event)
                            received.size += len(event)
                        elif segment is not None and not segment.filename:
                            value.extend(event)
                            if len(value) > MAX_FIELD_BYTES:
                                raise ImportProblem(f"The form field {segment.name!r} is too long.")
                    else:
                        if target is not None:
                            target.close()
                            target = None
                        elif segment is not None and not segment.filename:
                            received.fields[segment.name or ""] = value.decode(segment.charset or "utf-8", "replace")
                        value = bytearray()
                        segment = None
                if parser.closed:
                    break
    except MultipartError as exc:
        discard(received.path)
        raise ImportProblem("The upload was interrupted or is not a valid form; try again.") from exc
    except BaseException:
        discard(received.path)
        raise
    finally:
        if target is not None:
            target.close()
    return received


def check_upload(received: ReceivedUpload) -> None:
    """Refuse an empty, obviously wrong or oversized upload (removing it) before an import is created for it."""
    try:
        _check(received)
    except ImportProblem as exc:
        discard(received.path)
        raise ImportProblem(str(exc), field="file") from exc


def _check(received: ReceivedUpload) -> None:
    if received.path is None or not received.filename:
        raise ImportProblem("Choose a CSV or XLSX file to upload.")
    if received.size == 0:
        raise ImportProblem(f"“{received.filename}” is empty (0 bytes). Choose the file that holds your list.")
    if not received.filename.lower().endswith(ALLOWED_SUFFIXES):
        raise ImportProblem("Upload a .csv, .txt, .tsv or .xlsx file.")
    with received.path.open("rb") as stream:
        head = stream.read(SAMPLE_BYTES)
    if is_xlsx(head, received.filename):
        check_workbook(received.path)  # the zip bomb limits, from its directory
    else:
        detect_encoding(head)  # refuses images, PDFs and other binary data by their bytes


def discard(path: Path | None) -> None:
    if path is not None:
        path.unlink(missing_ok=True)


@dataclass(frozen=True)
class StoredUpload:
    """An upload that passed its checks, in the shared store under `key`."""

    key: str
    filename: str
    size: int


def _stored(workspace_id: int, received: ReceivedUpload) -> StoredUpload:
    check_upload(received)
    key = upload_key(workspace_id, received.path)
    try:
        shared_files().keep(received.path, key)
    except (OSError, BotoCoreError, ClientError) as exc:
        discard(received.path)
        raise ImportProblem(f"The file could not be stored where the workers read it ({exc.__class__.__name__}); "
                            "try again.", field="file") from exc
    return StoredUpload(key, received.filename, received.size)


async def keep_upload(workspace_id: int, received: ReceivedUpload) -> StoredUpload:
    """Check a file streamed to disk and hand it to the shared store, where every worker can read it."""
    return await asyncio.to_thread(_stored, workspace_id, received)
