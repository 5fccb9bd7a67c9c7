"""The mapping step: read the first rows, find the header and the email column, suggest a field per column."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

from app.services.imports.errors import ImportProblem
from app.services.imports.formats import Dialect, sample_records, sniff_dialect
from app.services.imports.limits import check_columns
from app.services.imports.rows import looks_like_email
from app.services.imports.sources import LocalFile, S3Objects
from app.services.imports.spreadsheets import is_xlsx, xlsx_records

PREVIEW_ROWS = 10
# The mapping step shows values, it does not need all of a long one.
PREVIEW_CHARS = 200
EMAIL_HEADERS = frozenset({
    "email", "emailaddress", "mail", "email1", "emailadress", "emailid", "courriel", "correo",
    "correoelectronico", "epost", "emailadresse", "mailaddress", "subscriberemail",
})


def header_key(text: str) -> str:
    return re.sub(r"[^0-9a-z]+", "", text.lower())


@dataclass
class Column:
    index: int
    name: str
    suggestion: str  # "email", "field:<tag>" or "" to skip
    samples: list[str] = field(default_factory=list)


@dataclass
class Analysis:
    kind: str  # "csv" or "xlsx"
    dialect: Dialect | None
    has_header: bool
    columns: list[Column]
    preview: list[list[str]]

    @property
    def email_column(self) -> int | None:
        return next((c.index for c in self.columns if c.suggestion == "email"), None)

    def suggested_mapping(self) -> dict[str, Any]:
        return {
            "email": self.email_column,
            "fields": {c.suggestion.removeprefix("field:"): c.index for c in self.columns
                       if c.suggestion.startswith("field:")},
        }


def _email_ratio(values: list[str]) -> float:
    filled = [v for v in values if v.strip()]
    return sum(looks_like_email(v) for v in filled) / len(filled) if filled else 0.0


def detect_header(first: list[str], rest: list[list[str]]) -> bool:
    """A first row is a header when it holds no address while the rows after it do, or it reads like names."""
    if any(looks_like_email(cell) for cell in first):
        return False
    if any(looks_like_email(cell) for row in rest for cell in row):
        return True
    cells = [cell.strip() for cell in first]
    return all(cells) and len(set(cells)) == len(cells) and not any(re.fullmatch(r"[\d.,+-]+", c) for c in cells)


def _email_index(names: list[str], by_column: list[list[str]]) -> int | None:
    ratios = [_email_ratio(values) for values in by_column]
    named = [i for i, name in enumerate(names) if header_key(name) in EMAIL_HEADERS or "email" in header_key(name)]
    if named:
        return max(named, key=lambda i: ratios[i])
    best = max(range(len(ratios)), key=lambda i: ratios[i], default=None)
    return best if best is not None and ratios[best] >= 0.5 else None


def suggest_columns(records: list[list[str]], has_header: bool, fields: list[dict]) -> list[Column]:
    width = max((len(r) for r in records), default=0)
    names = [(records[0][i] if i < len(records[0]) else "").strip() for i in range(width)] if has_header else []
    data = records[1:] if has_header else records
    by_column = [[row[i] if i < len(row) else "" for row in data] for i in range(width)]
    names = names or [f"Column {i + 1}" for i in range(width)]
    email = _email_index(names if has_header else [""] * width, by_column)
    by_key: dict[str, str] = {}
    for definition in fields:
        by_key.setdefault(header_key(definition["label"]), definition["tag"])
        by_key.setdefault(header_key(definition["tag"]), definition["tag"])
    taken: set[str] = set()
    columns = []
    for index in range(width):
        suggestion = ""
        if index == email:
            suggestion = "email"
        elif has_header and (tag := by_key.get(header_key(names[index]))) and tag not in taken:
            suggestion = f"field:{tag}"
            taken.add(tag)
        columns.append(Column(index, names[index], suggestion, by_column[index][:3]))
    return columns


def _shown(records: list[list[str]]) -> list[list[str]]:
    """The records with content, each value cut to what the preview shows."""
    return [[cell[:PREVIEW_CHARS] for cell in r] for r in records if any(cell.strip() for cell in r)]


def analyse(source: LocalFile | S3Objects, fields: list[dict], options: dict[str, Any]) -> Analysis:
    """What the first part of the source looks like; `options` may force encoding, delimiter and has_header."""
    part = source.parts[0]
    head = source.head(part)
    if not head:
        raise ImportProblem("The file is empty.", field="file")
    if is_xlsx(head, part.name):
        kind, dialect = "xlsx", None
        records = _shown(list(islice(xlsx_records(source.local_path(part)), 60)))
    else:
        kind = "csv"
        dialect = sniff_dialect(head, options.get("encoding", ""), options.get("delimiter", ""))
        records = _shown(sample_records(head, dialect))
    if not records:
        raise ImportProblem("No rows were found in the file.", field="file")
    check_columns(max(len(r) for r in records))
    detected = detect_header(records[0], records[1:])
    has_header = options["has_header"] if isinstance(options.get("has_header"), bool) else detected
    columns = suggest_columns(records, has_header, fields)
    preview = (records[1:] if has_header else records)[:PREVIEW_ROWS]
    return Analysis(kind, dialect, has_header, columns, preview)


def checked_mapping(raw: dict[str, Any], width: int, fields: list[dict], mode: str) -> dict[str, Any]:
    """The mapping to save: one email column, each field at most once, required fields covered."""
    email = raw.get("email")
    if not isinstance(email, int) or not 0 <= email < max(width, 1):
        raise ImportProblem("Choose the column that holds the email addresses.", field="mapping")
    chosen = {tag: index for tag, index in (raw.get("fields") or {}).items() if isinstance(index, int)}
    known = {f["tag"]: f for f in fields}
    unknown = sorted(set(chosen) - set(known))
    if unknown:
        raise ImportProblem(f"These fields do not exist in the list: {', '.join(unknown)}.", field="mapping")
    if mode in ("add", "add_update"):
        missing = [f["label"] for f in fields if f["required"] and not f["default_value"] and f["tag"] not in chosen]
        if missing:
            raise ImportProblem(
                f"Map a column to the required field(s) {', '.join(missing)}, or give them a default value.",
                field="mapping",
            )
    else:
        chosen = {}  # unsubscribing or suppressing needs only the address
    return {"email": email, "fields": chosen}


def mapping_from_choices(choices: dict[int, str]) -> dict[str, Any]:
    """Per-column choices from the mapping form ("email", "field:<tag>" or "") as a mapping; no target twice."""
    mapping: dict[str, Any] = {"email": None, "fields": {}}
    for index, target in sorted(choices.items()):
        if target == "email":
            if mapping["email"] is not None:
                raise ImportProblem("Only one column can be the email address.", field="mapping")
            mapping["email"] = index
        elif target.startswith("field:"):
            tag = target.removeprefix("field:")
            if tag in mapping["fields"]:
                raise ImportProblem(f"Two columns are mapped to the field “{tag}”; keep one.", field="mapping")
            mapping["fields"][tag] = index
    return mapping
