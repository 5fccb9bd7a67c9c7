"""Files one process hands to another, such as an upload the web received, read by the worker that imports it.

The web and the workers may run on different machines (docker-compose runs them in separate containers),
so such a file is never looked for on the disk of the process that wrote it: it goes to the S3-compatible
bucket FILES_S3_BUCKET when one is set, otherwise to SHARED_FILES_DIR, a directory that every process
mounts. A file is named by a key the server chose (`uploads/12/3f9c….csv`), never by what a user typed.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.settings import data_dir, get_settings

KEY = re.compile(r"[a-z0-9_-]+(?:/[a-z0-9_-]+)*(?:\.[a-z0-9]{1,5})?")


def checked_key(key: str) -> str:
    if not KEY.fullmatch(key):
        raise ValueError(f"not a shared file key: {key!r}")
    return key


@dataclass(frozen=True)
class Directory:
    """A directory every process mounts (one docker volume in web and worker)."""

    root: Path

    def incoming(self) -> Path:
        """Where a file is written while it arrives: beside the kept files, so keeping it is a rename."""
        folder = self.root / "incoming"
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def path(self, key: str) -> Path:
        return self.root / checked_key(key)

    def keep(self, local: Path, key: str) -> None:
        target = self.path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(local, target)

    def delete(self, key: str) -> None:
        self.path(key).unlink(missing_ok=True)


@dataclass(frozen=True)
class Bucket:
    """An S3-compatible bucket, with an optional prefix for the keys of this installation."""

    bucket: str
    prefix: str = ""
    endpoint_url: str = ""
    region: str = ""
    access_key_id: str = ""
    secret_access_key: str = ""

    def client(self) -> Any:
        import boto3

        return boto3.client("s3", endpoint_url=self.endpoint_url or None, region_name=self.region or None,
                            aws_access_key_id=self.access_key_id or None,
                            aws_secret_access_key=self.secret_access_key or None)

    def incoming(self) -> Path:
        """Where a file is written while it arrives, on this machine, until it is sent to the bucket."""
        folder = data_dir() / "incoming"
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def object_key(self, key: str) -> str:
        prefix = self.prefix.strip("/")
        return f"{prefix}/{checked_key(key)}" if prefix else checked_key(key)

    def keep(self, local: Path, key: str) -> None:
        try:
            self.client().upload_file(str(local), self.bucket, self.object_key(key))
        finally:
            local.unlink(missing_ok=True)

    def delete(self, key: str) -> None:
        self.client().delete_object(Bucket=self.bucket, Key=self.object_key(key))


def shared_files() -> Directory | Bucket:
    """The store this installation is configured with."""
    files = get_settings().files
    if files.s3_bucket:
        return Bucket(files.s3_bucket, files.s3_prefix, files.s3_endpoint_url, files.s3_region,
                      files.s3_access_key_id, files.s3_secret_access_key)
    return Directory(files.shared_dir)
