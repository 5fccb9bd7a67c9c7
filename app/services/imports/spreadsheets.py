"""XLSX files, read row by row with openpyxl's read-only mode so a big workbook never sits in memory.

Every read starts with the limits' check of the zip (app/services/imports/limits.py), before openpyxl
loads the workbook's shared strings.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from datetime import date, datetime, time
from pathlib import Path

from app.services.imports.errors import ImportProblem
from app.services.imports.limits import check_workbook, declared_rows


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

    check_workbook(path)
    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a damaged or foreign zip
        raise ImportProblem(f"This XLSX file cannot be opened ({exc.__class__.__name__}: {exc}).") from exc
    try:
        sheet = workbook.worksheets[0]
        # The size a sheet declares would pad every row to its last column and add empty rows up to its
        # last row (a few bytes can declare 16,384 columns); only the cells it holds are read.
        sheet.reset_dimensions()
        for number, row in enumerate(sheet.iter_rows(values_only=True)):
            if number >= skip:
                yield [_cell_text(value) for value in row]
    finally:
        workbook.close()


def xlsx_row_count(path: Path) -> int:
    """Rows the first sheet declares (its dimension), for progress; 0 when the writer left it out."""
    try:
        with zipfile.ZipFile(path) as archive:
            return declared_rows(archive)
    except zipfile.BadZipFile:
        return 0  # reading it says what is wrong
