"""Normalising, validating, de-duplicating and loading: every row counted once, every reject explained."""

from __future__ import annotations

import csv
import io
import json

from app.services import imports
from tests.integration.imports.helpers import import_file, make_list, write

FIELDS = (
    {"tag": "first_name", "label": "First name"},
    {"tag": "age", "label": "Age", "kind": "number"},
    {"tag": "birthday", "label": "Birthday", "kind": "date"},
    {"tag": "plan", "label": "Plan", "kind": "dropdown", "options": ["Free", "Pro"]},
    {"tag": "country", "label": "Country", "required": True},
    {"tag": "source", "label": "Source", "default": "import"},
)


async def _rejects(workspace_id: int, import_id: int) -> list[dict]:
    body = b"".join([chunk async for chunk in imports.rejects_csv(workspace_id, import_id)]).decode()
    return list(csv.DictReader(io.StringIO(body)))


async def test_duplicates_invalid_rows_and_field_errors_are_counted_and_explained(db, workspace, tmp_path):
    list_id = await make_list(db, workspace["id"], fields=FIELDS)
    path = write(tmp_path / "messy.csv", "\n".join([
        "Email,First Name,Age,Birthday,Plan,Country",
        "ann@example.com,Ann,34,1990-05-01,pro,FR",
        "ANN@EXAMPLE.COM ,Annie,35,,,FR",          # duplicate after normalising: first wins
        "not-an-address,X,1,,,FR",                  # invalid email
        "bob@example.com,Bob,old,,,DE",             # bad number
        "cy@example.com,Cy,3,31/02/2020,,DE",       # bad date
        "di@example.com,Di,4,,Gold,DE",             # not an option
        "ed@example.com,Ed,5,,,",                   # required field missing
        ",nobody,1,,,FR",                           # no email at all
        "Fay Doe <FAY@Example.org>,Fay,1 234,2001/02/03,Free,US",
        "gus@exämple.com,Gus,2,,,SE",               # Unicode domain, through email-validator
        "ann@example.com,Ann again,36,,,FR",
    ]) + "\n")
    final = await import_file(workspace["id"], list_id, path)
    assert final["status"] == "completed", final["error"]
    assert (final["rows_seen"], final["inserted"], final["skipped_duplicate"], final["invalid"]) == (11, 3, 2, 6)
    rows = {r["email"]: r for r in await db.fetch(
        "SELECT email, email_domain, fields::text, import_id, source, status FROM subscribers WHERE list_id = $1",
        list_id)}
    assert set(rows) == {"ann@example.com", "fay@example.org", "gus@exämple.com"}
    ann = json.loads(rows["ann@example.com"]["fields"])
    assert ann == {"first_name": "Ann", "age": 34, "birthday": "1990-05-01", "plan": "Pro", "country": "FR",
                   "source": "import"}
    fay = json.loads(rows["fay@example.org"]["fields"])
    assert fay["age"] == 1234 and fay["birthday"] == "2001-02-03"
    assert rows["gus@exämple.com"]["email_domain"] == "exämple.com"
    assert {r["import_id"] for r in rows.values()} == {final["id"]}
    counters = await db.fetchrow("SELECT total, confirmed FROM list_counters WHERE list_id = $1", list_id)
    assert (counters["total"], counters["confirmed"]) == (3, 3)

    rejects = {int(r["row"]): r for r in await _rejects(workspace["id"], final["id"])}
    assert sorted(rejects) == [4, 5, 6, 7, 8, 9]
    assert rejects[4]["reason"].startswith("invalid email")
    assert rejects[5]["reason"] == "bad number in Age: 'old'"
    assert "bad date in Birthday" in rejects[6]["reason"]
    assert "Plan must be one of Free, Pro" in rejects[7]["reason"]
    assert rejects[8]["reason"] == "missing required field: Country"
    assert rejects[9]["reason"] == "missing email"
    assert rejects[5]["raw"] == "bob@example.com,Bob,old,,,DE" and rejects[5]["email"] == "bob@example.com"


async def test_duplicates_across_batches_and_against_the_list(db, workspace, tmp_path):
    list_id = await make_list(db, workspace["id"])
    await db.execute("INSERT INTO subscribers (workspace_id, list_id, email) VALUES ($1, $2, 'old@example.com')",
                     workspace["id"], list_id)
    lines = ["email"] + [f"u{i % 40}@example.com" for i in range(100)] + ["old@example.com"]
    final = await import_file(workspace["id"], list_id, write(tmp_path / "dups.csv", "\n".join(lines)),
                              batch_rows=7)
    assert (final["rows_seen"], final["inserted"], final["skipped_duplicate"]) == (101, 40, 61)


async def test_add_and_update_merges_fields_first_occurrence_wins(db, workspace, tmp_path):
    list_id = await make_list(db, workspace["id"], fields=(*FIELDS[:1], {"tag": "city", "label": "City"}))
    await db.execute(
        "INSERT INTO subscribers (workspace_id, list_id, email, fields) VALUES "
        "($1, $2, 'ann@example.com', '{\"first_name\": \"Ann\", \"city\": \"Oslo\"}'), "
        "($1, $2, 'same@example.com', '{\"city\": \"Rome\"}')", workspace["id"], list_id)
    path = write(tmp_path / "update.csv", "email,city,first name\nann@example.com,Bergen,\n"
                 "new@example.com,Paris,Neo\nsame@example.com,Rome,\nann@example.com,Tromsø,\n")
    final = await import_file(workspace["id"], list_id, path, mode="add_update", batch_rows=2)
    assert (final["inserted"], final["updated"], final["skipped_duplicate"]) == (1, 1, 2)
    fields = {r["email"]: json.loads(r["fields"]) for r in await db.fetch(
        "SELECT email, fields::text FROM subscribers WHERE list_id = $1", list_id)}
    assert fields["ann@example.com"] == {"first_name": "Ann", "city": "Bergen"}
    assert fields["new@example.com"] == {"first_name": "Neo", "city": "Paris"}


async def test_unsubscribe_mode_records_history_and_rolls_back(db, workspace, tmp_path):
    list_id = await make_list(db, workspace["id"])
    await db.execute(
        "INSERT INTO subscribers (workspace_id, list_id, email, status) VALUES "
        "($1, $2, 'a@example.com', 'confirmed'), ($1, $2, 'b@example.com', 'unconfirmed'), "
        "($1, $2, 'c@example.com', 'bounced')", workspace["id"], list_id)
    path = write(tmp_path / "unsub.csv", "a@example.com\nb@example.com\nc@example.com\nzz@example.com\n"
                 "A@example.com\n")
    final = await import_file(workspace["id"], list_id, path, mode="unsubscribe", choices={0: "email"})
    assert (final["updated"], final["skipped_duplicate"], final["rows_seen"]) == (2, 1, 5)
    statuses = dict(await db.fetch("SELECT email, status FROM subscribers WHERE list_id = $1", list_id))
    assert statuses == {"a@example.com": "unsubscribed", "b@example.com": "unsubscribed",
                        "c@example.com": "bounced"}
    assert await db.fetchval("SELECT count(*) FROM subscriber_status_changes WHERE source = $1",
                             f"import:{final['id']}") == 2

    from app.redis_client import get_redis

    rolled = await imports.rollback(workspace["id"], final["id"], get_redis())
    assert rolled["status"] == "rolled_back"
    statuses = dict(await db.fetch("SELECT email, status FROM subscribers WHERE list_id = $1", list_id))
    assert statuses == {"a@example.com": "confirmed", "b@example.com": "unconfirmed", "c@example.com": "bounced"}


async def test_suppressed_addresses_never_join_and_suppress_mode_fills_a_list(db, workspace, tmp_path):
    ws = workspace["id"]
    list_id = await make_list(db, ws)
    blocked = await db.fetchval("INSERT INTO suppression_lists (workspace_id, name) VALUES ($1, 'Affiliate X') "
                                "RETURNING id", ws)
    await db.execute(
        "INSERT INTO suppression_entries (workspace_id, suppression_list_id, kind, value) VALUES "
        "($1, $2, 'email', 'a@example.com'), ($1, $2, 'domain', 'spam.example'), "
        "($1, $2, 'md5', md5('c@example.com')), "
        "($1, $2, 'sha256', encode(sha256('d@example.com'::bytea), 'hex'))", ws, blocked)
    path = write(tmp_path / "mixed.csv", "email\nA@example.com\nb@spam.example\nc@example.com\nd@example.com\n"
                 "ok@example.com\n")
    final = await import_file(ws, list_id, path)
    assert (final["inserted"], final["suppressed"], final["invalid"]) == (1, 4, 0)
    reasons = {r["email"]: r["reason"] for r in await _rejects(ws, final["id"])}
    assert reasons["a@example.com"] == "suppressed: on Affiliate X" and len(reasons) == 4

    path = write(tmp_path / "to-suppress.csv", "email\nnew@example.com\nA@example.com\nnew@example.com\n")
    final = await import_file(ws, list_id, path, mode="suppress")
    assert (final["suppressed"], final["skipped_duplicate"]) == (2, 1)
    blacklist = await db.fetchrow("SELECT id, entry_count FROM suppression_lists WHERE workspace_id = $1 "
                                  "AND is_blacklist", ws)
    assert blacklist["entry_count"] == 2
    assert final["suppression_list_id"] == blacklist["id"]


async def test_xlsx_with_dates_and_numbers(db, workspace, tmp_path):
    from datetime import date

    from openpyxl import Workbook

    list_id = await make_list(db, workspace["id"], fields=FIELDS[1:3])
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["E-mail address", "Age", "Birthday"])
    sheet.append(["xl@example.com", 41, date(1984, 2, 29)])
    sheet.append([None, None, None])
    sheet.append(["XL2@example.com", 41.5, None])
    path = tmp_path / "people.xlsx"
    workbook.save(path)
    final = await import_file(workspace["id"], list_id, path)
    assert final["status"] == "completed", final["error"]
    fields = {r["email"]: json.loads(r["fields"]) for r in await db.fetch(
        "SELECT email, fields::text FROM subscribers WHERE list_id = $1", list_id)}
    assert fields == {"xl@example.com": {"age": 41, "birthday": "1984-02-29"}, "xl2@example.com": {"age": 41.5}}
