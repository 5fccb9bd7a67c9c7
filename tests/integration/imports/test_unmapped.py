"""Imports that never get going: a file with a header and no rows says so, an import waiting for its mapping
can be discarded, and one abandoned for a day is discarded by the housekeeping job."""

from __future__ import annotations

from app.redis_client import get_redis
from app.services import housekeeping, imports
from app.tasks.broker import broker
from app.tasks.scheduler import JOBS
from tests.factories import post_form, signed_in_client
from tests.integration.imports.helpers import make_list, start_suggested, stored_file, upload, web_upload, write


async def test_a_header_only_file_is_flagged_at_mapping_and_in_the_summary(client, db):
    workspace, _ = await signed_in_client(client)
    list_id = await make_list(db, workspace["id"])
    uploaded = await web_upload(client, list_id, "header.csv", b"email,name\r\n")
    import_id = int(uploaded.headers["location"].split("/")[3])

    mapping = await client.get(uploaded.headers["location"])
    assert 'data-testid="import-no-rows"' in mapping.text and "no data rows" in mapping.text

    started = await post_form(client, f"/mailing/imports/{import_id}/start",
                              {"column_0": "email", "mode": "add", "has_header": "yes"})
    assert started.status_code == 303
    final = await imports.run_import(workspace["id"], import_id, get_redis())
    assert (final["status"], final["rows_seen"]) == ("completed", 0)
    summary = await client.get(f"/mailing/imports/{import_id}")
    assert 'data-testid="import-no-rows"' in summary.text and "no data rows" in summary.text


async def test_an_unmapped_import_is_discarded_with_its_file(client, db):
    workspace, _ = await signed_in_client(client)
    list_id = await make_list(db, workspace["id"])
    uploaded = await web_upload(client, list_id, "names.csv", b"name,phone\nAnn,123\n")
    import_id = int(uploaded.headers["location"].split("/")[3])
    row = await imports.get_import(workspace["id"], import_id)
    mapping = await client.get(uploaded.headers["location"])
    assert 'data-testid="import-discard"' in mapping.text
    assert stored_file(row).exists()

    response = await post_form(client, f"/mailing/imports/{import_id}/discard")

    assert response.status_code == 303 and response.headers["location"] == f"/mailing/lists/{list_id}/imports"
    assert await imports.get_import(workspace["id"], import_id) is None
    assert not stored_file(row).exists()
    history = await client.get(response.headers["location"])
    assert f'import-row-{import_id}"' not in history.text and "discarded" in history.text
    assert await db.fetchval("SELECT count(*) FROM audit_log WHERE action = 'import.discarded'") == 1


async def test_a_started_import_is_not_discarded(client, db, tmp_path):
    workspace, _ = await signed_in_client(client)
    list_id = await make_list(db, workspace["id"])
    row = await start_suggested(workspace["id"], await upload(workspace["id"], list_id,
                                                              write(tmp_path / "a.csv", "email\na@example.com\n")))

    response = await post_form(client, f"/mailing/imports/{row['id']}/discard")

    assert response.status_code == 303 and response.headers["location"] == f"/mailing/imports/{row['id']}"
    assert await imports.get_import(workspace["id"], row["id"]) is not None
    assert stored_file(row).exists()


async def test_imports_left_unmapped_for_a_day_are_discarded_by_housekeeping(db, workspace, tmp_path):
    list_id = await make_list(db, workspace["id"])
    path = write(tmp_path / "a.csv", "email\na@example.com\n")
    abandoned, recent = await upload(workspace["id"], list_id, path), await upload(workspace["id"], list_id, path)
    started = await start_suggested(workspace["id"], await upload(workspace["id"], list_id, path))
    await db.execute("UPDATE imports SET created_at = now() - interval '25 hours' WHERE id = ANY($1::int[])",
                     [abandoned["id"], started["id"]])

    assert await housekeeping.discard_abandoned_imports(get_redis()) == 1

    assert {row["id"] for row in await imports.history(workspace["id"])} == {recent["id"], started["id"]}
    assert not stored_file(abandoned).exists() and stored_file(recent).exists()
    job = next(job for job in JOBS if job.name == "discard-abandoned-imports")
    assert broker.get_actor(job.actor_name) is not None
