"""Where an import's bytes come from: an uploaded file in the shared store (app/services/shared_files.py,
a directory every process mounts or a bucket), or the marketer's objects under an S3 prefix.

Either way the file is read as a stream from any byte offset (S3 with a
ranged GET), so a resumed import continues where the last committed batch
ended without reading what came before.
"""

from __future__ import annotations

import base64
import hashlib
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, BinaryIO, Protocol

from cryptography.fernet import Fernet, InvalidToken

from app.services.imports.errors import ImportProblem
from app.services.imports.formats import SAMPLE_BYTES
from app.services.shared_files import Directory, shared_files
from app.settings import data_dir, get_settings


@dataclass(frozen=True)
class Part:
    """One file of an import: the uploaded file, or one S3 object."""

    name: str
    size: int


class Source(Protocol):
    parts: list[Part]

    def head(self, part: Part, size: int = SAMPLE_BYTES) -> bytes: ...

    def open(self, part: Part, offset: int) -> Any: ...

    def local_path(self, part: Part) -> Path: ...


def cache_folder(workspace_id: int) -> Path:
    """This process's copies of workbooks read from S3 (openpyxl must seek in a file on disk)."""
    return data_dir() / "cache" / str(workspace_id)


class LocalFile:
    """A file on a disk this process sees: an upload in the shared directory."""

    def __init__(self, path: Path, filename: str) -> None:
        if not path.is_file():
            raise ImportProblem("The uploaded file is no longer on the server; upload it again.")
        self.path = path
        self.parts = [Part(filename or path.name, path.stat().st_size)]

    def head(self, part: Part, size: int = SAMPLE_BYTES) -> bytes:
        with self.path.open("rb") as stream:
            return stream.read(size)

    @contextmanager
    def open(self, part: Part, offset: int) -> Iterator[BinaryIO]:
        with self.path.open("rb") as stream:
            stream.seek(offset)
            yield stream

    def local_path(self, part: Part) -> Path:
        return self.path


def _fernet() -> Fernet:
    digest = hashlib.sha256(f"ignite-imports:{get_settings().security.secret_key}".encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def seal(secret: str) -> str:
    """S3 secret keys are kept encrypted on the import row, for the worker to use, and dropped when it ends."""
    return _fernet().encrypt(secret.encode()).decode() if secret else ""


def unseal(token: str) -> str:
    try:
        return _fernet().decrypt(token.encode()).decode() if token else ""
    except InvalidToken as exc:
        raise ImportProblem("The stored S3 credentials cannot be read (the secret key changed); start again.") from exc


@dataclass(frozen=True)
class S3Location:
    bucket: str
    prefix: str
    region: str = ""
    endpoint_url: str = ""
    access_key_id: str = ""
    sealed_secret: str = ""

    @classmethod
    def parse(cls, location: str, **credentials: str) -> S3Location:
        """`s3://bucket/prefix` or `bucket/prefix`; the prefix may be one key or a folder."""
        text = location.strip().removeprefix("s3://")
        bucket, _, prefix = text.partition("/")
        if not bucket:
            raise ImportProblem("Give the bucket and prefix, as s3://bucket/prefix.", field="location")
        return cls(bucket=bucket, prefix=prefix, **credentials)

    def as_options(self) -> dict[str, str]:
        return asdict(self)

    @property
    def url(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"


def _client(location: S3Location) -> Any:
    import boto3

    return boto3.client(
        "s3", region_name=location.region or None, endpoint_url=location.endpoint_url or None,
        aws_access_key_id=location.access_key_id or None,
        aws_secret_access_key=unseal(location.sealed_secret) or None,
    )


def _s3_problem(exc: Exception, location: S3Location) -> ImportProblem:
    from botocore.exceptions import ClientError

    if isinstance(exc, ClientError):
        code = exc.response.get("Error", {}).get("Code", "")
        messages = {
            "NoSuchBucket": f"The bucket “{location.bucket}” does not exist.",
            "AccessDenied": f"These credentials may not read {location.url}.",
            "InvalidAccessKeyId": "The access key is not known to S3.",
            "SignatureDoesNotMatch": "The secret key does not match the access key.",
            "NoSuchKey": f"The file is no longer in the bucket “{location.bucket}”; upload it again.",
        }
        return ImportProblem(messages.get(code, f"S3 refused the request ({code or exc})."), field="location")
    return ImportProblem(f"S3 cannot be reached ({exc.__class__.__name__}: {exc}).", field="location")


class S3Objects:
    """Every object under a prefix (or the one key the prefix names), read with ranged GETs."""

    def __init__(self, location: S3Location, parts: list[Part], cache: Path, client: Any = None) -> None:
        self.location = location
        self.parts = parts
        self.cache = cache
        self._client = client or _client(location)

    @classmethod
    def discover(cls, location: S3Location, cache: Path) -> S3Objects:
        from botocore.exceptions import BotoCoreError, ClientError

        client = _client(location)
        parts: list[Part] = []
        try:
            pages = client.get_paginator("list_objects_v2").paginate(Bucket=location.bucket, Prefix=location.prefix)
            for page in pages:
                for item in page.get("Contents", []):
                    if not item["Key"].endswith("/") and item["Size"] > 0:
                        parts.append(Part(item["Key"], int(item["Size"])))
        except (BotoCoreError, ClientError) as exc:
            raise _s3_problem(exc, location) from exc
        exact = [part for part in parts if part.name == location.prefix]
        if not parts:
            raise ImportProblem(f"No files were found under {location.url}.", field="location")
        return cls(location, exact or sorted(parts, key=lambda part: part.name), cache)

    def _get(self, part: Part, byte_range: str) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return self._client.get_object(Bucket=self.location.bucket, Key=part.name, Range=byte_range)["Body"]
        except (BotoCoreError, ClientError) as exc:
            raise _s3_problem(exc, self.location) from exc

    def head(self, part: Part, size: int = SAMPLE_BYTES) -> bytes:
        body = self._get(part, f"bytes=0-{size - 1}")
        try:
            return body.read()
        finally:
            body.close()

    @contextmanager
    def open(self, part: Part, offset: int) -> Iterator[Any]:
        if offset >= part.size:
            yield _Empty()
            return
        body = self._get(part, f"bytes={offset}-")
        try:
            yield body
        finally:
            body.close()

    def local_path(self, part: Part) -> Path:
        """XLSX is a zip that openpyxl must seek in, so such an object is first copied to disk (streamed)."""
        digest = hashlib.sha256(f"{self.location.bucket}/{part.name}/{part.size}".encode()).hexdigest()[:24]
        path = self.cache / f"s3-{digest}.xlsx"
        if not path.exists() or path.stat().st_size != part.size:
            self.cache.mkdir(parents=True, exist_ok=True)
            partial = path.with_suffix(".partial")
            with self.open(part, 0) as body, partial.open("wb") as target:
                shutil.copyfileobj(body, target, 1 << 20)
            partial.replace(path)
        return path


class _Empty:
    def read(self, size: int = -1) -> bytes:
        return b""


def source_of(row: dict[str, Any]) -> LocalFile | S3Objects:
    """The source an import row describes."""
    options = row["options"]
    if row["source"] == "s3":
        location = S3Location(**options["s3"])
        parts = [Part(name, size) for name, size in options.get("parts", [])]
        return S3Objects(location, parts, cache_folder(row["workspace_id"]))
    return _stored_upload(row)


def _legacy_path(row: dict[str, Any]) -> Path | None:
    """Uploads from before the shared store were named by their path on the web's disk."""
    return Path(row["location"]) if row["location"].startswith("/") else None


def _stored_upload(row: dict[str, Any]) -> LocalFile | S3Objects:
    legacy = _legacy_path(row)
    if legacy is not None:
        return LocalFile(legacy, row["filename"])
    store = shared_files()
    if isinstance(store, Directory):
        return LocalFile(store.path(row["location"]), row["filename"])
    key = store.object_key(row["location"])
    return S3Objects(S3Location(store.bucket, key), [Part(key, int(row["total_bytes"]))],
                     cache_folder(row["workspace_id"]), client=store.client())


def upload_key(workspace_id: int, received: Path) -> str:
    """Where the shared store keeps an upload: its server-chosen name, under its workspace."""
    return f"uploads/{int(workspace_id)}/{received.name}"


def remove_upload(row: dict[str, Any]) -> None:
    """The uploaded file of an import that no longer needs it (finished, rolled back or discarded)."""
    if row["source"] != "upload":
        return
    legacy = _legacy_path(row)
    if legacy is not None:
        legacy.unlink(missing_ok=True)
    elif row["location"]:
        shared_files().delete(row["location"])
