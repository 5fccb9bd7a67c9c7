"""The one way the app writes CSV: every file a person downloads (the rejected rows of an import, list and
segment exports, suppression exports) is written by `CsvRows`.

A spreadsheet runs a cell that starts with `=`, `+`, `-` or `@` (or a tab or carriage return, which it skips
before one) as a formula: `=HYPERLINK(...)` leaks the sheet, `+cmd|...` starts a program (OWASP "CSV
injection"). Such a cell is written after an apostrophe, which spreadsheets read as "this is text"; an import
of Ignite's own export reads the address back without it (app/services/imports/rows.py).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from typing import Any

FORMULA_LEADS = ("=", "+", "-", "@", "\t", "\r")
_LEADS = frozenset(FORMULA_LEADS)


def safe_cell(value: Any) -> Any:
    """The value as a spreadsheet may open it: text that would run as a formula gets a leading apostrophe."""
    if value is None:
        return ""
    if value.__class__ is str and value[:1] in _LEADS:
        return "'" + value
    return value


class CsvRows:
    """UTF-8 CSV, one chunk of rows at a time, so a download of millions of rows streams in flat memory."""

    def __init__(self, columns: Sequence[str]) -> None:
        self.columns = tuple(columns)
        self._buffer = io.StringIO()
        self._writer = csv.writer(self._buffer)

    def header(self) -> bytes:
        return self.encode([self.columns])

    def encode(self, rows: Iterable[Sequence[Any]]) -> bytes:
        # safe_cell inlined: exports run this for every cell of millions of rows (csv writes None as "").
        leads = _LEADS
        self._writer.writerows(
            ["'" + value if value.__class__ is str and value[:1] in leads else value for value in row] for row in rows)
        chunk = self._buffer.getvalue().encode()
        self._buffer.seek(0)
        self._buffer.truncate()
        return chunk
