"""Reading CSV files the way they really arrive: any common encoding and delimiter, streamed record by record.

CSV text is split into lines on bytes, so every record knows the byte offset
where it ends; that offset is what progress shows and where a resumed import
seeks to. Memory stays constant whatever the file size.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from charset_normalizer import from_bytes
from charset_normalizer.md import mess_ratio

from app.services.imports.errors import ImportProblem

CHUNK_BYTES = 1 << 20
SAMPLE_BYTES = 1 << 16
DELIMITERS = (",", ";", "\t", "|")
# A quote that is never closed would otherwise swallow the rest of the file into one field.
MAX_FIELD_CHARS = 128 * 1024
csv.field_size_limit(MAX_FIELD_CHARS)

_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
# Magic numbers of files people upload by mistake instead of a CSV.
_NOT_TEXT = {
    b"\xd0\xcf\x11\xe0": "an old Excel .xls file; save it as .xlsx or CSV",
    b"%PDF": "a PDF document",
    b"\x1f\x8b": "a gzip archive; unpack it first",
    b"\x89PNG": "a PNG image",
}
# What the mapping step offers when detection guessed wrong: the encodings lists are saved in, by region.
ENCODINGS = ("utf-8", "cp1252", "latin-1", "iso-8859-15", "cp1250", "iso-8859-2", "cp1251", "koi8-r", "cp1253",
             "iso-8859-7", "cp1254", "cp1257", "utf-16-le", "utf-16-be")
# Legacy encodings charset-normalizer chooses among: those lists really arrive in. Left to itself it also
# weighs DOS and Mac code pages, which read short Western European samples "cleanly" but wrongly.
LEGACY_CANDIDATES = ("cp1252", "cp1250", "cp1251", "cp1253", "cp1254", "cp1255", "cp1256", "cp1257", "koi8_r",
                     "koi8_u", "iso8859_2", "iso8859_5", "iso8859_7", "iso8859_15", "shift_jis", "euc_jp",
                     "gb18030", "big5", "euc_kr", "cp874")
# A physical line longer than this is not a mailing list: reading on would hold it all in memory.
MAX_LINE_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True)
class Dialect:
    """How to read one CSV file: its text encoding, BOM length, delimiter and line separator."""

    encoding: str
    bom: int
    delimiter: str
    newline: str


def _refuse_binary(head: bytes) -> None:
    for magic, what in _NOT_TEXT.items():
        if head.startswith(magic):
            raise ImportProblem(f"This file is {what}, not a CSV or XLSX file.")
    if b"\x00" in head:
        raise ImportProblem("This file is not text: it contains binary data. Upload a CSV or XLSX file.")


def _utf16_without_bom(head: bytes) -> str | None:
    """UTF-16 files saved without a BOM: every other byte of mostly-ASCII text is zero."""
    sample = head[: len(head) - len(head) % 2]
    if len(sample) < 8:
        return None
    even, odd = sample[0::2], sample[1::2]
    if odd.count(0) > 0.4 * len(odd) and even.count(0) < 0.05 * len(even):
        return "utf-16-le"
    if even.count(0) > 0.4 * len(even) and odd.count(0) < 0.05 * len(odd):
        return "utf-16-be"
    return None


def detect_encoding(head: bytes) -> tuple[str, int]:
    """The encoding and BOM length: a BOM decides, then UTF-16 by zero bytes, UTF-8 if it decodes, else
    the legacy encoding charset-normalizer reads most cleanly."""
    for bom, encoding in _BOMS:
        if head.startswith(bom):
            return encoding, len(bom)
    utf16 = _utf16_without_bom(head)
    if utf16:
        return utf16, 0
    _refuse_binary(head)
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
        return "utf-8", 0
    except UnicodeDecodeError:
        return _legacy_encoding(head), 0


def _western(head: bytes) -> str:
    try:
        head.decode("cp1252")
        return "cp1252"
    except UnicodeDecodeError:
        return "latin-1"  # cp1252 leaves five bytes undefined; Latin-1 reads every byte


def _legacy_encoding(head: bytes) -> str:
    """Cyrillic, Greek, Hebrew or Asian text is told apart by charset-normalizer; Western European text,
    which it often gives to a neighbour (cp1250 reads "ø" as "ř"), stays cp1252 whenever cp1252 reads it
    at least as cleanly. Only lines with non-ASCII bytes are weighed: addresses and numbers say nothing."""
    sample = b"\n".join(line for line in head.splitlines() if not line.isascii())
    best = from_bytes(sample, cp_isolation=list(LEGACY_CANDIDATES)).best()
    if best is None or mess_ratio(sample.decode("cp1252", errors="replace")) <= best.chaos:
        return _western(head)
    return codecs.lookup(best.encoding).name


def _complete_lines(text: str) -> list[str]:
    """The sample's lines, without the last one, which the sample may have cut."""
    lines = text.splitlines(keepends=True)
    return lines[:-1] if len(lines) > 1 else lines


def _delimiter_score(lines: list[str], delimiter: str) -> tuple[float, int]:
    try:
        widths = [len(r) for r in csv.reader(lines, delimiter=delimiter) if any(cell.strip() for cell in r)][:50]
    except csv.Error:
        return (0.0, 0)
    if not widths:
        return (0.0, 0)
    width, count = Counter(widths).most_common(1)[0]
    return (count / len(widths), width) if width > 1 else (0.0, 1)


def sniff_dialect(head: bytes, encoding: str = "", delimiter: str = "") -> Dialect:
    """Detect what is not given: encoding from bytes, delimiter by the most consistent column count."""
    if encoding:
        bom = next((len(b) for b, name in _BOMS if name == encoding and head.startswith(b)), 0)
    else:
        encoding, bom = detect_encoding(head)
    body = head[bom:]
    text = codecs.getincrementaldecoder(encoding)(errors="replace").decode(body, final=False)
    newline = "\r" if "\r" in text and "\n" not in text else "\n"
    if not delimiter:
        lines = _complete_lines(text)
        scores = {d: _delimiter_score(lines, d) for d in DELIMITERS}
        delimiter = max(DELIMITERS, key=lambda d: scores[d])
        if scores[delimiter][1] <= 1:
            delimiter = ","
    return Dialect(encoding=encoding, bom=bom, delimiter=delimiter, newline=newline)


def sample_records(head: bytes, dialect: Dialect, limit: int = 50) -> list[list[str]]:
    """The first complete records of a file's first bytes, for the mapping step."""
    text = codecs.getincrementaldecoder(dialect.encoding)(errors="replace").decode(head[dialect.bom:], final=False)
    lines = _complete_lines(text) if len(head) >= SAMPLE_BYTES else text.splitlines(keepends=True)
    records = []
    try:
        for record in csv.reader(lines, delimiter=dialect.delimiter):
            records.append(record)
            if len(records) >= limit:
                break
    except csv.Error as exc:
        raise ImportProblem(f"The start of the file cannot be read as CSV: {exc}.") from exc
    return records


class LineReader:
    """Text lines of a byte stream, decoded one by one; `offset` is the byte position after the last line given.

    A line that does not decode in the detected encoding (a stray Latin-1 byte
    in a UTF-8 file) is decoded as cp1252 instead of failing the whole file.
    """

    def __init__(self, stream: BinaryIO, dialect: Dialect, offset: int) -> None:
        self.stream = stream
        self.dialect = dialect
        self.offset = offset

    def _decode(self, line: bytes) -> str:
        try:
            return line.decode(self.dialect.encoding)
        except UnicodeDecodeError:
            if self.dialect.encoding.startswith("utf-16"):
                return line.decode(self.dialect.encoding, errors="replace")
            return line.decode("cp1252", errors="replace")

    def _checked(self, pending: bytes) -> bytes:
        """The unfinished line so far, unless it has grown past any line of a list."""
        if len(pending) > MAX_LINE_BYTES:
            raise ImportProblem(f"The line that starts at byte {self.offset:,} is longer than "
                                f"{MAX_LINE_BYTES >> 20} MB without a line break: this is not a list in CSV form.")
        return pending

    def __iter__(self) -> Iterator[str]:
        separator = self.dialect.newline.encode(self.dialect.encoding)
        width = len(separator)
        pending = b""
        while chunk := self.stream.read(CHUNK_BYTES):
            data = pending + chunk
            if width == 1:
                lines = data.split(separator)
                pending = self._checked(lines.pop())
                for line in lines:
                    self.offset += len(line) + 1
                    yield self._decode(line) + self.dialect.newline
                continue
            line_start = search = 0
            while (found := data.find(separator, search)) != -1:
                if found % width:  # the bytes straddle two UTF-16 code units: not a newline
                    search = found + 1
                    continue
                end = found + width
                self.offset += end - line_start
                yield self._decode(data[line_start:end])
                line_start = search = end
            pending = self._checked(data[line_start:])
        if pending:
            self.offset += len(pending)
            yield self._decode(pending)


@dataclass(frozen=True)
class MalformedRow:
    """A record the CSV parser could not read, with the parser's reason."""

    reason: str


def csv_records(stream: BinaryIO, dialect: Dialect, offset: int) -> Iterator[tuple[list[str] | MalformedRow, int]]:
    """(record, byte offset after it) from `offset`, which must be the start of a record."""
    lines = LineReader(stream, dialect, offset)
    reader = csv.reader(lines, delimiter=dialect.delimiter)
    while True:
        try:
            record = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            if "field larger than field limit" in str(exc):
                raise ImportProblem(
                    f"A quoted value is never closed (or is longer than {MAX_FIELD_CHARS // 1024} KB) "
                    f"before byte {lines.offset:,}. Check the quotes in the file around there."
                ) from exc
            yield MalformedRow(f"malformed row: {exc}"), lines.offset
            continue
        yield record, lines.offset


def text_of(record: list[str], delimiter: str = ",") -> str:
    """A record back as one CSV line, for the rejects file."""
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter, lineterminator="").writerow(record)
    return buffer.getvalue()
