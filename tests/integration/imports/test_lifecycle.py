"""Cancel, crash, resume and roll back: whatever happens, the import row says exactly what is in the list."""

from __future__ import annotations

import asyncio
import json

import pytest

from app.redis_client import get_redis
from app.services import imports
from app.services.imports import ImportStateError, progress
from app.services.imports import loading as loading_module
from tests.integration.imports.helpers import import_file, make_list, start_suggested, upload

ROWS = 50_000


def _big_csv(path, rows: int = ROWS):
    """A big-ish file: duplicates every 1000th row, an invalid address every 997th, a quoted newline now and then."""
    with path.open("w", encoding="utf-8", newline="") as target:
        target.write("email,first name,notes\r\n")
        for i in range(rows):
            email = f"bad address {i}" if i % 997 == 0 else f"Person{i - 1 if i % 1000 == 0 else i}@Example.com"
            notes = f'"line one\nline two {i}"' if i % 500 == 0 else f"note {i}"
            target.write(f"{email},Name {i},{notes}\r\n")
    return path


async def _counts(db, list_id: int) -> tuple[int, int]:
    return (await db.fetchval("SELECT count(*) FROM subscribers WHERE list_id = $1", list_id),
            await db.fetchval("SELECT total FROM list_counters WHERE list_id = $1", list_id) or 0)


def _expected() -> dict[str, int]:
    invalid = len([i for i in range(ROWS) if i % 997 == 0])
    duplicates = len([i for i in range(ROWS) if i % 1000 == 0 and i % 997 != 0 and (i - 1) % 997 != 0 and i > 0])
    return {"invalid": invalid, "skipped_duplicate": duplicates, "inserted": ROWS - invalid - duplicates}


async def test_a_big_file_is_exact(db, workspace, tmp_path):
    list_id = await make_list(db, workspace["id"], fields=({"tag": "first_name", "label": "First name"},))
    final = await import_file(workspace["id"], list_id, _big_csv(tmp_path / "big.csv"))
    assert final["status"] == "completed" and final["rows_seen"] == ROWS
    assert {key: final[key] for key in _expected()} == _expected()
    assert await _counts(db, list_id) == (final["inserted"], final["inserted"])
    assert await db.fetchval("SELECT count(*) FROM import_rejects WHERE import_id = $1", final["id"]) == \
        final["invalid"]
    note = await db.fetchval("SELECT fields FROM subscribers WHERE email = 'person500@example.com'")
    assert json.loads(note) == {"first_name": "Name 500"}


async def test_cancel_then_resume_finishes_exactly_once(db, workspace, tmp_path):
    list_id = await make_list(db, workspace["id"])
    row = await start_suggested(workspace["id"], await upload(workspace["id"], list_id, _big_csv(tmp_path / "b.csv")))
    redis = get_redis()

    async def cancel_after_two_batches():
        async for state in progress.follow(redis, row["id"]):
            if state and state["rows_seen"] >= 2 * 5000:
                await imports.cancel(workspace["id"], row["id"], redis)
                return

    watcher = asyncio.create_task(cancel_after_two_batches())
    await asyncio.sleep(0.05)
    cancelled = await imports.run_import(workspace["id"], row["id"], redis, batch_rows=5000)
    await watcher
    assert cancelled["status"] == "cancelled" and 10_000 <= cancelled["rows_seen"] < ROWS
    assert (await _counts(db, list_id))[0] == cancelled["inserted"]
    assert imports.allowed_actions(cancelled, alive=False) == {"resume", "rollback"}

    await imports.resume(workspace["id"], row["id"], redis)
    final = await imports.run_import(workspace["id"], row["id"], redis, batch_rows=5000)
    assert final["status"] == "completed" and final["rows_seen"] == ROWS
    assert {key: final[key] for key in _expected()} == _expected()
    assert await db.fetchval("SELECT count(*) FROM import_rejects WHERE import_id = $1", row["id"]) == \
        final["invalid"]


async def test_a_crashed_run_is_resumed_after_its_last_batch(db, workspace, tmp_path, monkeypatch):
    list_id = await make_list(db, workspace["id"])
    row = await start_suggested(workspace["id"], await upload(workspace["id"], list_id, _big_csv(tmp_path / "c.csv")),
                                mode="add_update")
    redis = get_redis()
    commits = 0
    original = loading_module.Loader.commit

    async def dies_in_the_fourth_batch(self, batch, totals, since):
        nonlocal commits
        commits += 1
        if commits == 4:
            await self.db.copy_records_to_table(  # half-written, inside the batch's transaction
                "import_batch", records=batch.rows, columns=("row_number", "email", "domain", "fields"))
            raise asyncio.CancelledError  # as when the worker process is killed mid-batch
        return await original(self, batch, totals, since)

    monkeypatch.setattr(loading_module.Loader, "commit", dies_in_the_fourth_batch)
    with pytest.raises(asyncio.CancelledError):
        await imports.run_import(workspace["id"], row["id"], redis, batch_rows=4000)
    stuck = await imports.get_import(workspace["id"], row["id"])
    assert stuck["status"] == "running" and stuck["rows_seen"] == 3 * 4000
    assert (await _counts(db, list_id))[0] == stuck["inserted"]
    with pytest.raises(ImportStateError):  # its heartbeat is still fresh: it might be alive
        await imports.resume(workspace["id"], row["id"], redis)

    await redis.delete(f"import:{row['id']}:alive")  # the heartbeat of a dead worker expires
    monkeypatch.setattr(loading_module.Loader, "commit", original)
    await imports.resume(workspace["id"], row["id"], redis)
    final = await imports.run_import(workspace["id"], row["id"], redis, batch_rows=4000)
    assert final["status"] == "completed" and final["rows_seen"] == ROWS
    assert {key: final[key] for key in _expected()} == _expected() and final["updated"] == 0


async def test_rollback_removes_only_what_the_import_added(db, workspace, tmp_path):
    list_id = await make_list(db, workspace["id"])
    await db.execute("INSERT INTO subscribers (workspace_id, list_id, email) VALUES ($1, $2, 'person5@example.com'),"
                     " ($1, $2, 'kept@example.com')", workspace["id"], list_id)
    final = await import_file(workspace["id"], list_id, _big_csv(tmp_path / "r.csv", rows=3000))
    assert (await _counts(db, list_id))[0] == final["inserted"] + 2
    rolled = await imports.rollback(workspace["id"], final["id"], get_redis())
    assert rolled["status"] == "rolled_back" and rolled["inserted"] == final["inserted"]
    assert await _counts(db, list_id) == (2, 2)
    with pytest.raises(ImportStateError):
        await imports.rollback(workspace["id"], final["id"], get_redis())
    with pytest.raises(ImportStateError):
        await imports.resume(workspace["id"], final["id"], get_redis())


async def test_suppress_import_rolls_back_its_entries(db, workspace, tmp_path):
    list_id = await make_list(db, workspace["id"])
    final = await import_file(workspace["id"], list_id, _big_csv(tmp_path / "s.csv", rows=500), mode="suppress")
    assert final["suppressed"] == 499  # row 0 is invalid
    await imports.rollback(workspace["id"], final["id"], get_redis())
    assert await db.fetchval("SELECT count(*) FROM suppression_entries") == 0
    assert await db.fetchval("SELECT entry_count FROM suppression_lists") == 0


async def test_rollback_of_add_and_update_restores_changed_fields(db, workspace, tmp_path):
    from tests.integration.imports.helpers import write

    list_id = await make_list(db, workspace["id"], fields=({"tag": "city", "label": "City"},))
    await db.execute("INSERT INTO subscribers (workspace_id, list_id, email, fields) VALUES "
                     "($1, $2, 'old@example.com', '{\"city\": \"Oslo\", \"vip\": true}')", workspace["id"], list_id)
    source = write(tmp_path / "u.csv", "email,city\nold@example.com,Lima\nnew@example.com,Rome\n")
    final = await import_file(workspace["id"], list_id, source, mode="add_update")
    assert (final["inserted"], final["updated"]) == (1, 1)
    changed = await db.fetchval("SELECT fields FROM subscribers WHERE email = 'old@example.com'")
    assert json.loads(changed) == {"city": "Lima", "vip": True}
    await imports.rollback(workspace["id"], final["id"], get_redis())
    restored = await db.fetchval("SELECT fields FROM subscribers WHERE email = 'old@example.com'")
    assert json.loads(restored) == {"city": "Oslo", "vip": True}
    assert await db.fetchval("SELECT count(*) FROM subscribers WHERE list_id = $1", list_id) == 1
