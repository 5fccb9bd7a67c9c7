"""Files as they really arrive: encodings, delimiters, quoted newlines, blank lines, header or not."""

from __future__ import annotations

import asyncio
import codecs

import pytest

from app.redis_client import get_redis
from app.services import imports
from app.services.imports import ImportProblem
from tests.integration.imports.helpers import import_file, make_list, start_suggested, stored_file, upload, write

FIELDS = ({"tag": "first_name", "label": "First name"}, {"tag": "city", "label": "City"})


async def _subscribers(db, list_id: int) -> dict[str, dict]:
    rows = await db.fetch("SELECT email, fields::text AS fields, import_id FROM subscribers WHERE list_id = $1",
                          list_id)
    return {r["email"]: __import__("json").loads(r["fields"]) for r in rows}


@pytest.mark.parametrize("encoding", ["latin-1", "cp1252", "utf-8-sig", "utf-16"])
async def test_encodings_are_detected_and_accents_survive(db, workspace, tmp_path, encoding):
    list_id = await make_list(db, workspace["id"], fields=FIELDS)
    text = "Email;First name;City\r\nzoe@example.com;Zoë;Zürich\r\nRENE@Example.COM;René;Besançon\r\n"
    if encoding == "cp1252":
        text += "marc@example.com;Marc “le grand”;Paris\r\n"
    path = write(tmp_path / f"people-{encoding}.csv", text, encoding)
    final = await import_file(workspace["id"], list_id, path)
    assert final["status"] == "completed", final["error"]
    people = await _subscribers(db, list_id)
    assert people["zoe@example.com"] == {"first_name": "Zoë", "city": "Zürich"}
    assert people["rene@example.com"]["city"] == "Besançon"
    if encoding == "cp1252":
        assert people["marc@example.com"]["first_name"] == "Marc “le grand”"
    assert final["inserted"] == len(people) and final["invalid"] == 0


RUSSIAN = [("ivan@example.ru", "Иван", "Москва"), ("olga@example.ru", "Ольга", "Санкт-Петербург"),
           ("pyotr@example.ru", "Пётр", "Новосибирск"), ("anna@example.ru", "Анна", "Екатеринбург"),
           ("dmitri@example.ru", "Дмитрий", "Казань"), ("elena@example.ru", "Елена", "Нижний Новгород")]
GREEK = [("nikos@example.gr", "Νίκος", "Αθήνα"), ("maria@example.gr", "Μαρία", "Θεσσαλονίκη"),
         ("giorgos@example.gr", "Γιώργος", "Πάτρα"), ("eleni@example.gr", "Ελένη", "Ηράκλειο"),
         ("kostas@example.gr", "Κώστας", "Λάρισα"), ("sofia@example.gr", "Σοφία", "Βόλος")]


@pytest.mark.parametrize(("encoding", "people"), [("cp1251", RUSSIAN), ("koi8-r", RUSSIAN), ("cp1253", GREEK),
                                                  ("iso-8859-7", GREEK)])
async def test_cyrillic_and_greek_lists_keep_their_letters(db, workspace, tmp_path, encoding, people):
    list_id = await make_list(db, workspace["id"], fields=FIELDS)
    text = "email;First name;City\r\n" + "".join(f"{email};{name};{city}\r\n" for email, name, city in people)
    final = await import_file(workspace["id"], list_id, write(tmp_path / f"{encoding}.csv", text, encoding))
    assert final["status"] == "completed", final["error"]
    expected = {email: {"first_name": name, "city": city} for email, name, city in people}
    assert await _subscribers(db, list_id) == expected


async def test_tabs_quoted_newlines_blank_lines_and_a_stray_latin1_byte(db, workspace, tmp_path):
    list_id = await make_list(db, workspace["id"], fields=FIELDS)
    body = (
        b"email\tfirst name\tcity\n\n"
        b"ann@example.com\t\"Ann\nMarie\"\tLyon\n"
        b"\n\n"
        b"  bob@example.com  \tBob\tK\xf6ln\n"  # one Latin-1 byte in an otherwise UTF-8 file
        b"cy@example.com\tCy\t\"Tab\tinside\"\n"
    )
    path = tmp_path / "tabs.tsv"
    path.write_bytes(body)
    final = await import_file(workspace["id"], list_id, path)
    assert final["status"] == "completed", final["error"]
    people = await _subscribers(db, list_id)
    assert people["ann@example.com"]["first_name"] == "Ann\nMarie"
    assert people["bob@example.com"]["city"] == "Köln"
    assert people["cy@example.com"]["city"] == "Tab\tinside"
    assert final["rows_seen"] == 3


async def test_file_without_header_and_pipe_delimiter(db, workspace, tmp_path):
    list_id = await make_list(db, workspace["id"])
    path = write(tmp_path / "plain.txt", "x@example.com|X\ny@example.com|Y\n")
    final = await import_file(workspace["id"], list_id, path)
    assert final["status"] == "completed" and final["inserted"] == 2


async def test_old_mac_line_endings(db, workspace, tmp_path):
    list_id = await make_list(db, workspace["id"])
    path = write(tmp_path / "mac.csv", "email,name\rm1@example.com,A\rm2@example.com,B\r")
    final = await import_file(workspace["id"], list_id, path)
    assert final["inserted"] == 2


async def test_missing_email_column_is_refused_with_a_clear_message(db, workspace, tmp_path):
    list_id = await make_list(db, workspace["id"])
    path = write(tmp_path / "names.csv", "name,phone\nAnn,123\nBob,456\n")
    with pytest.raises(ImportProblem, match="email addresses"):
        await import_file(workspace["id"], list_id, path)


async def test_binary_file_is_refused_at_upload(db, workspace, tmp_path):
    list_id = await make_list(db, workspace["id"])
    path = tmp_path / "photo.csv"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 10)
    with pytest.raises(ImportProblem, match="PNG image"):
        await upload(workspace["id"], list_id, path)


async def test_a_quote_never_closed_fails_the_import_with_a_message_and_keeps_what_came_before(db, workspace,
                                                                                             tmp_path):
    list_id = await make_list(db, workspace["id"])
    rows = "".join(f"ok{i}@example.com,fine\n" for i in range(50))
    path = write(tmp_path / "quote.csv", "email,note\n" + rows + 'late@example.com,"never closed\n' + "x" * 200_000)
    final = await import_file(workspace["id"], list_id, path, batch_rows=20)
    assert final["status"] == "failed" and "quoted value is never closed" in final["error"]
    assert final["inserted"] == 40 == await db.fetchval("SELECT count(*) FROM subscribers WHERE list_id = $1",
                                                        list_id)


async def test_a_file_gone_from_disk_fails_the_import_clearly(db, workspace, tmp_path):
    list_id = await make_list(db, workspace["id"])
    row = await start_suggested(workspace["id"], await upload(workspace["id"], list_id,
                                                              write(tmp_path / "a.csv", "email\na@example.com\n")))
    await asyncio.to_thread(stored_file(row).unlink)
    final = await imports.run_import(workspace["id"], row["id"], get_redis())
    assert final["status"] == "failed" and "no longer on the server" in final["error"]


def test_utf16_is_seen_with_or_without_bom():
    from app.services.imports.formats import detect_encoding

    assert detect_encoding(codecs.BOM_UTF16_BE + "a,b".encode("utf-16-be")) == ("utf-16-be", 2)
    assert detect_encoding("email,name\nzoé@example.com,Zoé\n".encode("utf-16-le")) == ("utf-16-le", 0)
