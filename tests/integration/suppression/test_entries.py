"""Suppression entries: recognising pasted lines, counts kept by triggers, search, export."""

import csv
import hashlib
import io

import pytest

from app.db.suppression import SuppressionEntry
from app.services import suppression
from app.services.suppression import Entry
from tests.factories import make_workspace

MD5 = hashlib.md5(b"bob@example.com").hexdigest()
SHA = hashlib.sha256(b"bob@example.com").hexdigest()


@pytest.mark.parametrize(("line", "entry"), [
    ("  Ann@Example.COM ", Entry("email", "ann@example.com")),
    ('"ann@example.com",', Entry("email", "ann@example.com")),
    (MD5.upper(), Entry("md5", MD5)),
    (SHA, Entry("sha256", SHA)),
    ("@Spam-Domain.example", Entry("domain", "spam-domain.example")),
    ("mailinator.com", Entry("domain", "mailinator.com")),
    ("ann@", None),
    ("not an address", None),
    ("abc123", None),
    ("-bad-.com", None),
    ("a" * 31, None),
])
def test_each_line_is_recognised_and_normalised(line, entry):
    assert suppression.classify(line) == entry


async def _named_list(name="Offer 77"):
    workspace = await make_workspace()
    return workspace, await suppression.create_list(workspace["id"], name)


async def test_paste_summary_counts_added_present_and_invalid():
    workspace, offer = await _named_list()
    first = await suppression.add_pasted(workspace["id"], offer["id"], f"bob@example.com\n{MD5}\n\n  \nnonsense\n")
    assert (first.added, first.already_present, first.invalid) == (2, 0, ["nonsense"])
    second = await suppression.add_pasted(workspace["id"], offer["id"], "BOB@example.com\nbob@example.com\nnew.example")
    assert (second.added, second.already_present, second.invalid) == (1, 1, [])
    assert (await suppression.get_list(workspace["id"], offer["id"]))["entry_count"] == 3


async def test_entry_count_follows_removals_and_reason_is_kept():
    workspace, offer = await _named_list()
    await suppression.add_pasted(workspace["id"], offer["id"], "a@example.com\nb@example.com", reason="  Offer file ")
    entries, _ = await suppression.search(workspace["id"], offer["id"])
    assert {e["reason"] for e in entries} == {"Offer file"}
    removed = await suppression.remove_entry(workspace["id"], offer["id"], entries[0]["id"])
    assert removed == {"kind": "email", "value": "a@example.com"}
    assert (await suppression.get_list(workspace["id"], offer["id"]))["entry_count"] == 1
    with pytest.raises(LookupError):
        await suppression.remove_entry(workspace["id"], offer["id"], entries[0]["id"])


async def test_another_workspace_can_neither_add_to_nor_remove_from_a_list():
    workspace, offer = await _named_list()
    await suppression.add_pasted(workspace["id"], offer["id"], "a@example.com")
    intruder = await make_workspace()
    assert (await suppression.add_pasted(intruder["id"], offer["id"], "x@example.com")).added == 0
    entry = await SuppressionEntry.select().first()
    with pytest.raises(LookupError):
        await suppression.remove_entry(intruder["id"], offer["id"], entry["id"])
    assert await suppression.get_list(intruder["id"], offer["id"]) is None
    assert await SuppressionEntry.count() == 1


async def test_search_pages_by_value_and_finds_an_address_by_its_hash_or_domain():
    workspace, offer = await _named_list()
    await suppression.add_pasted(workspace["id"], offer["id"],
                                 "\n".join(f"user{i:02}@example.com" for i in range(7)) + f"\n{SHA}\n@bob.example")
    page, cursor = await suppression.search(workspace["id"], offer["id"], "user", limit=3)
    assert [e["value"] for e in page] == ["user00@example.com", "user01@example.com", "user02@example.com"]
    rest, last = await suppression.search(workspace["id"], offer["id"], "user", cursor, limit=5)
    assert rest[0]["value"] == "user03@example.com" and len(rest) == 4 and last == ""
    found, _ = await suppression.search(workspace["id"], offer["id"], " Bob@Example.com ")
    assert [(e["kind"], e["value"]) for e in found] == [("sha256", SHA)]
    by_domain, _ = await suppression.search(workspace["id"], offer["id"], "someone@bob.example")
    assert [e["kind"] for e in by_domain] == ["domain"]
    nothing, _ = await suppression.search(workspace["id"], offer["id"], "%")
    assert nothing == []


async def test_export_streams_every_entry_as_csv(monkeypatch):
    workspace, offer = await _named_list()
    await suppression.add_pasted(workspace["id"], offer["id"], "\n".join(f"u{i}@example.com" for i in range(12)),
                                 reason="=HYPERLINK(1)")
    monkeypatch.setattr("app.services.suppression.entries.EXPORT_BATCH", 5)
    chunks = [chunk async for chunk in suppression.export_csv(workspace["id"], offer["id"])]
    assert len(chunks) == 4  # header, then batches of 5, 5 and 2
    rows = list(csv.reader(io.StringIO(b"".join(chunks).decode())))
    assert rows[0] == ["kind", "value", "reason", "added_at"] and len(rows) == 13
    assert rows[1][:3] == ["email", "u0@example.com", "'=HYPERLINK(1)"]
