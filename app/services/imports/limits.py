"""What an imported file may hold, checked before it is read in full (the IMPORT_MAX_* settings).

An XLSX is a zip. Its directory gives every part's unpacked size, so a workbook that would unpack to
gigabytes, that compresses the way a zip bomb does, or whose shared strings (which openpyxl keeps in
memory) are too large, is refused from the directory alone; its first sheet declares its row count in an
element near its start, read without the rest. Rows and cells are counted again as they stream, since a
file may declare less than it holds: a cell over the limit sends its row to the rejects, a row over the
limit stops the import. Every message names the setting that decides it.
"""

from __future__ import annotations

import posixpath
import re
import zipfile
from pathlib import Path
from xml.etree.ElementTree import ParseError, iterparse

from app.services.imports.errors import ImportProblem
from app.settings import ImportLimits, get_settings

MB = 1 << 20
# Styles and themes compress far better than data and are harmless; only large parts are held to the ratio.
RATIO_FROM_BYTES = MB
# Where a sheet declares its size: the <dimension> element, in its first few hundred bytes.
SHEET_HEAD_BYTES = 64 * 1024
# The mapping step shows one drop-down per column; no mailing list has more.
MAX_COLUMNS = 1000
OFFICE_RELATIONSHIPS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
DIMENSION = re.compile(rb'<(?:\w+:)?dimension\s+ref="(?:[A-Z]+\d+:)?[A-Z]+(\d+)"')


def limits() -> ImportLimits:
    return get_settings().imports


def check_workbook(path: Path) -> None:
    """Refuse a workbook over a limit, reading only its zip directory and the head of its first sheet."""
    try:
        with zipfile.ZipFile(path) as archive:
            entries = archive.infolist()
            _check_sizes(entries)
            declared = declared_rows(archive)
    except zipfile.BadZipFile as exc:
        raise ImportProblem("This XLSX file cannot be opened: it is not a complete zip archive.", field="file") \
            from exc
    if declared > limits().max_rows:
        raise ImportProblem(f"This sheet declares {declared:,} rows; imports take up to {limits().max_rows:,} rows "
                            "(IMPORT_MAX_ROWS). Split the file.", field="file")


def _check_sizes(entries: list[zipfile.ZipInfo]) -> None:
    chosen = limits()
    unpacked = sum(entry.file_size for entry in entries)
    if unpacked > chosen.max_unpacked_mb * MB:
        raise ImportProblem(f"This workbook unpacks to {unpacked / MB:,.0f} MB; imports take up to "
                            f"{chosen.max_unpacked_mb:,} MB (IMPORT_MAX_UNPACKED_MB). Save it as CSV or split it.",
                            field="file")
    for entry in entries:
        ratio = entry.file_size / max(entry.compress_size, 1)
        if entry.file_size > RATIO_FROM_BYTES and ratio > chosen.max_compression_ratio:
            raise ImportProblem(f"This workbook's part {entry.filename} unpacks {ratio:,.0f} times its size, as a "
                                f"zip bomb does; imports allow up to {chosen.max_compression_ratio:,} times "
                                "(IMPORT_MAX_COMPRESSION_RATIO).", field="file")
        if entry.filename.lower().endswith("sharedstrings.xml") and entry.file_size > chosen.max_shared_strings_mb * MB:
            raise ImportProblem(f"This workbook's text takes {entry.file_size / MB:,.0f} MB; imports take up to "
                                f"{chosen.max_shared_strings_mb:,} MB of it (IMPORT_MAX_SHARED_STRINGS_MB). "
                                "Save it as CSV, which has no such limit.", field="file")


def declared_rows(archive: zipfile.ZipFile) -> int:
    """The last row number the first sheet declares; 0 when it declares none."""
    sheet = _first_sheet(archive)
    if sheet is None:
        return 0
    with archive.open(sheet) as stream:
        match = DIMENSION.search(stream.read(SHEET_HEAD_BYTES))
    return int(match.group(1)) if match else 0


def _first_attribute(archive: zipfile.ZipFile, part: str, tag: str, attribute: str, **wanted: str) -> str | None:
    """One attribute of the first `tag` element in `part` whose attributes match `wanted`, streamed."""
    try:
        with archive.open(part) as stream:
            for _, element in iterparse(stream):
                if element.tag.rsplit("}", 1)[-1] == tag and all(element.get(k) == v for k, v in wanted.items()):
                    return element.get(attribute)
                element.clear()
    except (KeyError, ParseError):
        return None
    return None


def _first_sheet(archive: zipfile.ZipFile) -> str | None:
    """The part that holds the workbook's first sheet, which is the one imported."""
    relation = _first_attribute(archive, "xl/workbook.xml", "sheet", f"{{{OFFICE_RELATIONSHIPS}}}id")
    if relation is None:
        return None
    target = _first_attribute(archive, "xl/_rels/workbook.xml.rels", "Relationship", "Target", Id=relation)
    if target is None:
        return None
    name = target.lstrip("/") if target.startswith("/") else posixpath.normpath(posixpath.join("xl", target))
    return name if name in archive.NameToInfo else None


def too_many_rows() -> ImportProblem:
    return ImportProblem(f"This file has more than {limits().max_rows:,} rows (IMPORT_MAX_ROWS); split it into "
                         "smaller files. Rows of earlier batches were imported: roll back to remove them.")


def oversized_cell(cells: list[str], max_chars: int) -> str:
    """Why a row cannot be imported because of one cell's length, or "" when every cell fits."""
    if max(map(len, cells), default=0) <= max_chars:
        return ""
    index, text = max(enumerate(cells), key=lambda numbered: len(numbered[1]))
    return (f"column {index + 1} is {len(text):,} characters long; cells take up to {max_chars:,} "
            "(IMPORT_MAX_CELL_CHARS)")


def check_columns(width: int) -> None:
    if width > MAX_COLUMNS:
        raise ImportProblem(f"This file has {width:,} columns; imports take up to {MAX_COLUMNS:,}. Check the "
                            "separator, or remove the columns you do not need.", field="file")
