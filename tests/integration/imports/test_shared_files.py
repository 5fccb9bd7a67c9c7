"""Web and worker on different machines: an upload goes to the shared store (a directory every process
mounts, or an S3-compatible bucket), never only to the disk of the process that received it.

The web side is this test process, the worker a real Dramatiq process; each has its own data folder, and
the web's folder is removed before the worker starts, as if it were on another machine.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator

import boto3
import pytest

from app.redis_client import get_redis
from app.services import imports
from tests.factories import post_form, signed_in_client
from tests.integration.imports.helpers import make_list, web_upload
from tests.integration.imports.workbooks import xlsx_file

ROWS = [["email", "city"], *([f"p{i}@example.com", f"City {i}"] for i in range(500))]
S3 = {"FILES_S3_BUCKET": "ignite-files", "FILES_S3_REGION": "us-east-1", "FILES_S3_ACCESS_KEY_ID": "testing",
      "FILES_S3_SECRET_ACCESS_KEY": "testing"}


@pytest.fixture
def worker_in(tmp_path) -> Iterator:
    """Starts a worker with its own data folder; what it logged is in tmp_path/worker.log."""
    processes: list[subprocess.Popen] = []
    log = (tmp_path / "worker.log").open("wb")

    def start(data_dir) -> None:
        processes.append(subprocess.Popen(
            [sys.executable, "-m", "dramatiq", "app.tasks", "--processes", "1", "--threads", "1",
             "--queues", "imports"], env={**os.environ, "IGNITE_DATA_DIR": str(data_dir)},
            stdout=subprocess.DEVNULL, stderr=log))

    yield start
    for process in processes:
        process.terminate()
        process.wait(timeout=30)
    log.close()


@pytest.fixture
def bucket(s3_endpoint) -> Iterator:
    client = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1", aws_access_key_id="testing",
                          aws_secret_access_key="testing")
    client.create_bucket(Bucket=S3["FILES_S3_BUCKET"])
    yield client
    for item in client.list_objects_v2(Bucket=S3["FILES_S3_BUCKET"]).get("Contents", []):
        client.delete_object(Bucket=S3["FILES_S3_BUCKET"], Key=item["Key"])
    client.delete_bucket(Bucket=S3["FILES_S3_BUCKET"])


def _objects(client) -> list[str]:
    return [item["Key"] for item in client.list_objects_v2(Bucket=S3["FILES_S3_BUCKET"]).get("Contents", [])]


async def _emptied(listing, seconds: float = 30) -> list:
    """What `listing()` finally returns, waiting for it to be empty: the worker removes the upload only after
    the import's completion is committed, so a reader may see "completed" a moment before the file goes."""
    for _ in range(int(seconds / 0.05)):
        if not (found := listing()):
            return found
        await asyncio.sleep(0.05)
    return listing()


async def _finished(workspace_id: int, import_id: int, log) -> dict:
    """The import once it has finished, woken by its progress messages rather than by polling."""
    async def wait() -> dict:
        async for _ in imports.follow(get_redis(), import_id, idle_seconds=1):
            row = await imports.get_import(workspace_id, import_id)
            if row["status"] in imports.FINISHED:
                return row
        raise AssertionError("the progress stream ended")

    try:
        return await asyncio.wait_for(wait(), 120)
    except TimeoutError:
        row = await imports.get_import(workspace_id, import_id)
        raise AssertionError(f"still {row['status']}; the worker logged: {log.read_text()[-3000:]}") from None


async def _upload_and_start(client, db, filename: str, body: bytes) -> tuple[int, int]:
    workspace, _ = await signed_in_client(client)
    list_id = await make_list(db, workspace["id"], fields=({"tag": "city", "label": "City"},))
    uploaded = await web_upload(client, list_id, filename, body)
    assert uploaded.status_code == 303, uploaded.text[:500]
    import_id = int(uploaded.headers["location"].split("/")[3])
    assert "p1@example.com" in (await client.get(uploaded.headers["location"])).text
    started = await post_form(client, f"/mailing/imports/{import_id}/start",
                              {"column_0": "email", "column_1": "field:city", "mode": "add", "has_header": "yes"})
    assert started.status_code == 303
    return workspace["id"], import_id


async def test_a_shared_directory_carries_an_upload_from_the_web_to_a_worker_elsewhere(
        client, db, tmp_path, configure, worker_in):
    shared = tmp_path / "shared"
    configure(IGNITE_DATA_DIR=tmp_path / "web", SHARED_FILES_DIR=shared)
    body = "".join(f"{email},{city}\n" for email, city in ROWS).encode()
    workspace_id, import_id = await _upload_and_start(client, db, "people.csv", body)

    shutil.rmtree(tmp_path / "web", ignore_errors=True)
    worker_in(tmp_path / "worker")
    final = await _finished(workspace_id, import_id, tmp_path / "worker.log")

    assert (final["status"], final["inserted"]) == ("completed", 500), final["error"]
    assert await _emptied(lambda: [path for path in shared.rglob("*") if path.is_file()]) == []


async def test_a_bucket_carries_an_upload_from_the_web_to_a_worker_elsewhere(
        client, db, tmp_path, configure, worker_in, s3_endpoint, bucket):
    configure(IGNITE_DATA_DIR=tmp_path / "web", SHARED_FILES_DIR=tmp_path / "unused", FILES_S3_ENDPOINT_URL=s3_endpoint,
              **S3)
    workspace_id, import_id = await _upload_and_start(client, db, "people.xlsx",
                                                      xlsx_file(tmp_path / "people.xlsx", ROWS).read_bytes())
    [key] = _objects(bucket)
    assert key.startswith(f"uploads/{workspace_id}/") and key.endswith(".xlsx")
    assert not (tmp_path / "unused").exists()

    shutil.rmtree(tmp_path / "web", ignore_errors=True)
    worker_in(tmp_path / "worker")
    final = await _finished(workspace_id, import_id, tmp_path / "worker.log")

    assert (final["status"], final["inserted"]) == ("completed", 500), final["error"]
    assert await _emptied(lambda: _objects(bucket)) == []
