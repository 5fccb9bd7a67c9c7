"""Suppression entries: recognising pasted lines, adding, removing, searching and exporting them."""

from __future__ import annotations

import hashlib
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from app.services import statements
from app.services.csv_files import CsvRows
from app.services.sqlparams import Params, fetch
from app.services.subscribers import SubscriberError, normalized_email
from app.services.suppression.lists import SuppressionError
from app.services.tenancy import checked_workspace_id

KINDS = ("email", "md5", "sha256", "domain")
KIND_LABELS = {"email": "email address", "md5": "MD5 hash", "sha256": "SHA-256 hash", "domain": "domain"}
PAGE_SIZE = 50
EXPORT_BATCH = 5000
MD5 = re.compile(r"^[0-9a-f]{32}$")
SHA256 = re.compile(r"^[0-9a-f]{64}$")
# Suppression files arrive quoted, with stray separators, or with a trailing comma from a one-column CSV.
DECORATION = " \t\"'`,;"


@dataclass(frozen=True)
class Entry:
    kind: str
    value: str


@dataclass
class AddSummary:
    added: int = 0
    already_present: int = 0
    invalid: list[str] = field(default_factory=list)


def _domain(text: str) -> str | None:
    labels = text.split(".")
    if len(text) > 253 or len(labels) < 2:
        return None
    for label in labels:
        if not 0 < len(label) <= 63 or label[0] == "-" or label[-1] == "-":
            return None
        if not all(ch.isalnum() or ch == "-" for ch in label):
            return None
    return text


def classify(line: str) -> Entry | None:
    """What one line of a suppression file is, normalised the way subscriber addresses are stored."""
    text = line.strip().strip(DECORATION).lower()
    if MD5.match(text):
        return Entry("md5", text)
    if SHA256.match(text):
        return Entry("sha256", text)
    if text.startswith("@"):
        domain = _domain(text[1:])
        return Entry("domain", domain) if domain else None
    if "@" in text:
        try:
            return Entry("email", normalized_email(text))
        except SubscriberError:
            return None
    domain = _domain(text)
    return Entry("domain", domain) if domain else None


def hashed(email: str) -> dict[str, str]:
    """The values an address can be suppressed by; hashes are of the lower-cased address."""
    address = email.strip().lower()
    data = address.encode("utf-8")
    return {"email": address, "md5": hashlib.md5(data).hexdigest(), "sha256": hashlib.sha256(data).hexdigest(),
            "domain": address.rpartition("@")[2]}


def parse_lines(text: str) -> tuple[list[Entry], list[str]]:
    """Distinct entries in first-seen order, and the lines that are none of email, hash or domain."""
    entries: dict[Entry, None] = {}
    invalid: list[str] = []
    for line in text.splitlines():
        if not line.strip(DECORATION):
            continue
        entry = classify(line)
        if entry is None:
            invalid.append(line.strip())
        else:
            entries[entry] = None
    return list(entries), invalid


async def add_entries(workspace_id: int, list_id: int, entries: list[Entry], reason: str = "") -> int:
    """Adds what is not there yet (one statement, whatever the size); returns how many were new."""
    if not entries:
        return 0
    rows = await statements.run("suppression.add-entries", checked_workspace_id(workspace_id), list_id,
                                [e.kind for e in entries], [e.value for e in entries], reason.strip()[:200])
    return int(rows[0]["n"])


async def add_pasted(workspace_id: int, list_id: int, text: str, reason: str = "") -> AddSummary:
    if not text.strip():
        raise SuppressionError({"entries": "Paste at least one line."})
    entries, invalid = parse_lines(text)
    added = await add_entries(workspace_id, list_id, entries, reason)
    return AddSummary(added=added, already_present=len(entries) - added, invalid=invalid)


async def remove_entry(workspace_id: int, list_id: int, entry_id: int) -> dict:
    params = Params()
    rows = await fetch(
        f"DELETE FROM suppression_entries WHERE workspace_id = {params.add(checked_workspace_id(workspace_id))} "
        f"AND suppression_list_id = {params.add(list_id)} AND id = {params.add(entry_id)} RETURNING kind, value",
        params,
    )
    if not rows:
        raise LookupError("suppression entry")
    return rows[0]


async def remove_entries(workspace_id: int, list_id: int, entries: list[Entry]) -> int:
    """Removes these entries from the list (one statement, whatever the size); returns how many were there."""
    if not entries:
        return 0
    params = Params()
    rows = await fetch(
        f"WITH removed AS (DELETE FROM suppression_entries WHERE workspace_id = "
        f"{params.add(checked_workspace_id(workspace_id))} AND suppression_list_id = {params.add(list_id)} "
        f"AND (kind, value) IN (SELECT * FROM unnest({params.add([e.kind for e in entries])}::text[], "
        f"{params.add([e.value for e in entries])}::text[])) RETURNING 1) SELECT count(*) AS n FROM removed",
        params,
    )
    return int(rows[0]["n"])


def _like_prefix(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


async def search(
    workspace_id: int, list_id: int, query: str = "", after: str = "", limit: int = PAGE_SIZE
) -> tuple[list[dict], str]:
    """A page of entries in value order and the cursor of the next ("" on the last page).

    A whole address also finds its hashes and its domain, so "is bob@x.com
    suppressed?" is answered even by a hashed affiliate file.
    """
    params = Params()
    where = [f"e.workspace_id = {params.add(checked_workspace_id(workspace_id))}",
             f"e.suppression_list_id = {params.add(list_id)}"]
    text = query.strip().lower()
    if "@" in text.strip("@"):
        probes = hashed(text)
        where.append(f"(e.kind, e.value) IN (('email', {params.add(probes['email'])}), "
                     f"('md5', {params.add(probes['md5'])}), ('sha256', {params.add(probes['sha256'])}), "
                     f"('domain', {params.add(probes['domain'])}))")
    elif text:
        where.append(f'e.value COLLATE "C" LIKE {params.add(_like_prefix(text.lstrip("@")))}')
    value, _, last_id = after.rpartition("|")
    if last_id.isdigit():
        where.append(f'(e.value COLLATE "C", e.id) > ({params.add(value)}, {params.add(int(last_id))})')
    rows = await fetch(
        "SELECT e.id, e.kind, e.value, e.reason, e.created_at FROM suppression_entries e "
        f"WHERE {' AND '.join(where)} ORDER BY e.value COLLATE \"C\", e.id LIMIT {params.add(limit + 1)}",
        params,
    )
    cursor = f"{rows[limit - 1]['value']}|{rows[limit - 1]['id']}" if len(rows) > limit else ""
    return rows[:limit], cursor


async def export_csv(workspace_id: int, list_id: int) -> AsyncIterator[bytes]:
    """The list as CSV, fetched in keyset batches so memory stays flat however long the list is; written by
    the one CSV writer, which escapes cells a spreadsheet would run as formulas."""
    csv_rows = CsvRows(("kind", "value", "reason", "added_at"))
    yield csv_rows.header()
    after = ""
    while True:
        rows, after = await search(workspace_id, list_id, after=after, limit=EXPORT_BATCH)
        yield csv_rows.encode((row["kind"], row["value"], row["reason"], row["created_at"].isoformat())
                              for row in rows)
        if not after:
            return
