"""End to end through a real Dramatiq worker process: the start button enqueues, the worker imports."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import pytest

from app.services import imports
from tests.factories import post_form, prime_csrf, signed_in_client
from tests.integration.imports.helpers import make_list, stored_file


@pytest.fixture
def worker():
    process = subprocess.Popen(
        [sys.executable, "-m", "dramatiq", "app.tasks", "--processes", "1", "--threads", "2", "--queues", "imports"],
        env=os.environ.copy(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    yield process
    process.terminate()
    process.wait(timeout=30)


async def test_the_worker_runs_an_uploaded_import(client, db, worker):
    workspace, _ = await signed_in_client(client)
    list_id = await make_list(db, workspace["id"], fields=({"tag": "city", "label": "City"},))
    body = "email,city\n" + "".join(f"w{i}@example.com,City number {i}\n" for i in range(50_000)) + "w1@example.com,x\n"
    assert len(body) > 1_500_000  # above the app's 1 MB body limit, which the upload route lifts
    token = await prime_csrf(client)
    uploaded = await client.post(f"/mailing/lists/{list_id}/imports", headers={"x-csrftoken": token},
                                 files={"file": ("w.csv", body.encode(), "text/csv")})
    import_id = int(uploaded.headers["location"].split("/")[3])
    started = await post_form(client, f"/mailing/imports/{import_id}/start",
                              {"column_0": "email", "column_1": "field:city", "mode": "add", "has_header": "yes"})
    assert started.status_code == 303

    for _ in range(300):
        row = await imports.get_import(workspace["id"], import_id)
        if row["status"] in imports.FINISHED:
            break
        await asyncio.sleep(0.1)
    assert row["status"] == "completed", (row["status"], row["error"], worker.poll())
    assert (row["inserted"], row["skipped_duplicate"], row["processed_bytes"]) == (50_000, 1, len(body))
    assert await db.fetchval("SELECT total FROM list_counters WHERE list_id = $1", list_id) == 50_000
    # The upload is removed as part of finishing, just after the status is committed.
    for _ in range(100):
        if not await asyncio.to_thread(stored_file(row).exists):
            break
        await asyncio.sleep(0.05)
    assert not await asyncio.to_thread(stored_file(row).exists)
