"""XLSX files, read row by row with openpyxl's read-only mode so a big workbook never sits in memory."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, time
from pathlib import Path

from app.services.imports.errors import ImportProblem


def is_xlsx(head: bytes, name: str) -> bool:
    return head.startswith(b"PK\x03\x04") or name.lower().endswith((".xlsx", ".xlsm"))


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time() else value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def xlsx_records(path: Path, skip: int = 0) -> Iterator[list[str]]:
    """Rows of the first sheet as text, streamed by openpyxl's read-only mode; the first `skip` rows are passed over."""
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a damaged or foreign zip
        raise ImportProblem(f"This XLSX file cannot be opened ({exc.__class__.__name__}: {exc}).") from exc
    try:
        sheet = workbook.worksheets[0]
        for number, row in enumerate(sheet.iter_rows(values_only=True)):
            if number >= skip:
                yield [_cell_text(value) for value in row]
    finally:
        workbook.close()


def xlsx_row_count(path: Path) -> int:
    """Rows the first sheet declares (its dimension); 0 when the writer left it out."""
    from openpyxl import load_workbook

    workbook = load_workbook(path, read_only=True)
    try:
        return workbook.worksheets[0].max_row or 0
    finally:
        workbook.close()
