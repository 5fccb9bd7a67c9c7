"""Records of every part of a source, built into batches that each end at a known, resumable position."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

from app.services.imports.formats import MalformedRow, csv_records, sniff_dialect, text_of
from app.services.imports.limits import limits, oversized_cell, too_many_rows
from app.services.imports.rows import Rejected, RowBuilder
from app.services.imports.sources import LocalFile, S3Objects
from app.services.imports.spreadsheets import is_xlsx, xlsx_records, xlsx_row_count

BATCH_ROWS = 10_000
# A rejected row is kept as text for the rejects file, up to this many characters (the column's width).
RAW_CHARS = 4000
Position = tuple[int, int, int, int]  # part, offset, records, row: a Cursor without its run


@dataclass(frozen=True)
class Cursor:
    """Where the next batch starts; saved on the import row with every committed batch.

    `offset` is the byte offset in the current part (CSV; 0 means its start),
    `records` the records read from it (XLSX resumes by skipping them), `row`
    the records read from all parts, so reject row numbers stay right on resume.
    """

    run: str = ""
    part: int = 0
    offset: int = 0
    records: int = 0
    row: int = 0

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Batch:
    rows: list[tuple[int, str, str, str]] = field(default_factory=list)  # row number, email, domain, fields JSON
    cells: dict[int, list[str]] = field(default_factory=dict)  # row number -> record, for rows the database may refuse
    rejects: list[tuple[int, str, str, str]] = field(default_factory=list)  # row number, email, reason, raw
    duplicates: int = 0
    rows_seen: int = 0
    cursor: Cursor = field(default_factory=Cursor)
    processed_bytes: int = 0
    delimiter: str = ","


class BatchReader:
    """Reads a source from a cursor and hands out batches; runs in a thread, one batch at a time."""

    def __init__(self, source: LocalFile | S3Objects, options: dict[str, Any], cursor: Cursor,
                 builder: RowBuilder, batch_rows: int = BATCH_ROWS) -> None:
        self.source = source
        self.options = options
        self.builder = builder
        self.batch_rows = batch_rows
        self.delimiter = ","
        self.run = cursor.run
        self._records = self._all_records(cursor)

    def _all_records(self, start: Cursor) -> Iterator[tuple[list[str] | MalformedRow | None, Position, int]]:
        """(cells, position, processed bytes) of every non-blank record; cells None once at the very end.

        The position is a plain tuple (part, offset, records, row): building a
        Cursor per record would cost more than parsing it.
        """
        done_bytes = sum(part.size for part in self.source.parts[: start.part])
        row = start.row
        max_rows = limits().max_rows
        for index in range(start.part, len(self.source.parts)):
            part = self.source.parts[index]
            resume_at = start if index == start.part else Cursor(part=index)
            head = self.source.head(part)
            reader = self._xlsx(part, resume_at) if is_xlsx(head, part.name) else self._csv(part, head, resume_at)
            header_pending = bool(self.options.get("has_header")) and resume_at.offset == 0 \
                and resume_at.records == 0
            for cells, offset, records in reader:
                row += 1
                if row > max_rows:
                    raise too_many_rows()
                if isinstance(cells, list) and not any(cell.strip() for cell in cells):
                    continue
                if header_pending:
                    header_pending = False
                    continue
                yield cells, (index, offset, records, row), done_bytes + offset
            done_bytes += part.size
        yield None, (len(self.source.parts), 0, 0, row), done_bytes

    def _csv(self, part: Any, head: bytes, cursor: Cursor) -> Iterator[tuple[list[str] | MalformedRow, int, int]]:
        dialect = sniff_dialect(head, self.options.get("encoding", ""), self.options.get("delimiter", ""))
        self.delimiter = dialect.delimiter
        start = cursor.offset or dialect.bom
        records = cursor.records
        with self.source.open(part, start) as stream:
            for cells, offset in csv_records(stream, dialect, start):
                records += 1
                yield cells, offset, records

    def _xlsx(self, part: Any, cursor: Cursor) -> Iterator[tuple[list[str], int, int]]:
        path = self.source.local_path(part)
        declared = xlsx_row_count(path) or 1
        records = cursor.records
        for cells in xlsx_records(path, skip=records):
            records += 1
            # XLSX has no byte positions; progress is the share of declared rows read.
            yield cells, min(part.size, part.size * records // declared), records

    def next_batch(self) -> Batch | None:
        """The next batch, or None when the source is exhausted."""
        batch = Batch()
        in_batch: set[str] = set()
        build = self.builder.build
        max_chars = limits().max_cell_chars
        position = (0, 0, 0, 0)
        for cells, position, processed in self._records:
            batch.processed_bytes = processed
            if cells is None:
                break
            batch.rows_seen += 1
            number = position[3]
            if isinstance(cells, MalformedRow):
                batch.rejects.append((number, "", cells.reason, ""))
            elif reason := oversized_cell(cells, max_chars):
                batch.rejects.append(self._rejected(number, cells, reason))
            elif isinstance(built := build(cells), Rejected):
                batch.rejects.append(self._rejected(number, cells, built))
            elif built[0] in in_batch:
                batch.duplicates += 1  # the first occurrence in the file wins
            else:
                in_batch.add(built[0])
                batch.rows.append((number, *built))
                batch.cells[number] = cells
            if batch.rows_seen >= self.batch_rows:
                break
        if not batch.rows_seen:
            return None
        part, offset, records, row = position
        batch.cursor = Cursor(self.run, part, offset, records, row)
        batch.delimiter = self.delimiter
        return batch

    def _rejected(self, number: int, cells: list[str], reason: str) -> tuple[int, str, str, str]:
        """A reject as stored: row number, the email cell, the reason and the row as text, each cut to its column."""
        index = self.builder.email_index
        email = cells[index][:320].strip() if index < len(cells) else ""
        raw = text_of([cell[:RAW_CHARS] for cell in cells], self.delimiter)[:RAW_CHARS]
        return number, email, reason[:200], raw

    def close(self) -> None:
        self._records.close()
