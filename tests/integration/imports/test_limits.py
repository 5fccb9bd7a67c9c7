"""File bombs: what an upload may hold is checked before it is read in full, an upload over a limit is
refused with the limit named, and a row that cannot be imported goes to the rejects with its reason."""

from __future__ import annotations

import csv
import io
import secrets

import pytest

from app.services import imports
from app.services.imports import ImportProblem
from tests.factories import signed_in_client
from tests.integration.imports.helpers import import_file, make_list, upload, web_upload, write
from tests.integration.imports.workbooks import Run, xlsx_file


async def _rejects(workspace_id: int, import_id: int) -> list[dict]:
    body = b"".join([chunk async for chunk in imports.rejects_csv(workspace_id, import_id)]).decode()
    return list(csv.DictReader(io.StringIO(body)))


async def test_a_workbook_that_unpacks_a_thousandfold_is_refused_at_upload(client, db, tmp_path):
    workspace, _ = await signed_in_client(client)
    list_id = await make_list(db, workspace["id"])
    bomb = xlsx_file(tmp_path / "bomb.xlsx", [["email", "note"], ["a@example.com", Run("x", 20_000_000)]])
    assert bomb.stat().st_size < 100_000

    response = await web_upload(client, list_id, "bomb.xlsx", bomb.read_bytes())

    assert response.status_code == 422
    assert 'data-testid="error-file"' in response.text and "IMPORT_MAX_COMPRESSION_RATIO" in response.text
    assert await db.fetchval("SELECT count(*) FROM imports") == 0


@pytest.mark.parametrize("setting", ["IMPORT_MAX_UNPACKED_MB", "IMPORT_MAX_SHARED_STRINGS_MB"])
async def test_a_workbook_over_a_size_limit_is_refused_naming_the_limit(db, workspace, tmp_path, configure, setting):
    configure(**{setting: 1})
    list_id = await make_list(db, workspace["id"])
    # Random text barely compresses, so only the size limit under test can refuse it.
    rows = [["email", "note"], *([f"p{i}@example.com", secrets.token_hex(400)] for i in range(2500))]
    workbook = xlsx_file(tmp_path / "big.xlsx", rows)

    with pytest.raises(ImportProblem, match=setting) as refused:
        await upload(workspace["id"], list_id, workbook)

    assert refused.value.field == "file"
    assert await imports.history(workspace["id"]) == []


async def test_a_sheet_declaring_more_rows_than_allowed_is_refused_before_its_rows_are_read(
        db, workspace, tmp_path, configure):
    configure(IMPORT_MAX_ROWS=1000)
    list_id = await make_list(db, workspace["id"])
    workbook = xlsx_file(tmp_path / "tall.xlsx", [["email"], ["a@example.com"]], dimension="A1:A5000")

    with pytest.raises(ImportProblem, match=r"5,000 rows.*IMPORT_MAX_ROWS"):
        await upload(workspace["id"], list_id, workbook)


async def test_rows_beyond_the_limit_stop_the_import_naming_the_limit(db, workspace, tmp_path, configure):
    configure(IMPORT_MAX_ROWS=20)
    list_id = await make_list(db, workspace["id"])
    path = write(tmp_path / "long.csv", "email\n" + "".join(f"r{i}@example.com\n" for i in range(30)))

    final = await import_file(workspace["id"], list_id, path)

    assert final["status"] == "failed" and "IMPORT_MAX_ROWS" in final["error"] and "20" in final["error"]
    assert final["inserted"] == 0


@pytest.mark.parametrize("kind", ["csv", "xlsx"])
async def test_a_cell_over_the_limit_sends_its_row_to_the_rejects_with_the_reason(db, workspace, tmp_path, kind):
    list_id = await make_list(db, workspace["id"])
    rows = [["email", "note"], ["a@example.com", "short"], ["b@example.com", "y" * 40_000], ["c@example.com", "ok"]]
    if kind == "csv":
        path = write(tmp_path / "cells.csv", "".join(f"{email},{note}\n" for email, note in rows))
    else:
        path = xlsx_file(tmp_path / "cells.xlsx", rows)

    final = await import_file(workspace["id"], list_id, path)

    assert final["status"] == "completed", final["error"]
    assert (final["rows_seen"], final["inserted"], final["invalid"]) == (3, 2, 1)
    [rejected] = await _rejects(workspace["id"], final["id"])
    assert rejected["row"] == "3" and rejected["email"] == "b@example.com"
    assert "40,000 characters" in rejected["reason"] and "IMPORT_MAX_CELL_CHARS" in rejected["reason"]
    assert len(rejected["raw"]) <= 4000


async def test_a_sheet_that_declares_every_column_is_read_as_the_cells_it_has(db, workspace, tmp_path):
    list_id = await make_list(db, workspace["id"])
    workbook = xlsx_file(tmp_path / "wide.xlsx", [["email", "name"], ["a@example.com", "Ann"], ["b@example.com", "Bo"]],
                         dimension="A1:XFD1000")
    row = await upload(workspace["id"], list_id, workbook)

    analysis, _ = await imports.analyse_import(workspace["id"], row, {})

    assert [column.name for column in analysis.columns] == ["email", "name"]


async def test_a_line_that_never_ends_fails_the_import_naming_the_limit(db, workspace, tmp_path):
    list_id = await make_list(db, workspace["id"])
    path = write(tmp_path / "endless.csv", "email\na@example.com\n" + "x" * 5_000_000)

    final = await import_file(workspace["id"], list_id, path)

    assert final["status"] == "failed" and "longer than 4 MB" in final["error"], final["error"]
