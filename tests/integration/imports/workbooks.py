"""XLSX files written byte by byte, so a test can make what spreadsheet programs never would: a shared
string of millions of characters, a sheet that declares a million rows, a zip that unpacks 1000 to 1."""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PACKAGE = "http://schemas.openxmlformats.org/package/2006/relationships"
MAIN = "application/vnd.openxmlformats-officedocument.spreadsheetml"
CONTENT_TYPES = (
    '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    f'<Override PartName="/xl/workbook.xml" ContentType="{MAIN}.sheet.main+xml"/>'
    f'<Override PartName="/xl/worksheets/sheet1.xml" ContentType="{MAIN}.worksheet+xml"/>'
    f'<Override PartName="/xl/sharedStrings.xml" ContentType="{MAIN}.sharedStrings+xml"/></Types>'
)
PARTS = {
    "_rels/.rels": f'<?xml version="1.0"?><Relationships xmlns="{PACKAGE}">'
                   f'<Relationship Id="rId1" Type="{REL}/officeDocument" Target="xl/workbook.xml"/></Relationships>',
    "xl/workbook.xml": f'<?xml version="1.0"?><workbook xmlns="{NS}" xmlns:r="{REL}">'
                       '<sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>',
    "xl/_rels/workbook.xml.rels": f'<?xml version="1.0"?><Relationships xmlns="{PACKAGE}">'
                                  f'<Relationship Id="rId1" Type="{REL}/worksheet" Target="worksheets/sheet1.xml"/>'
                                  f'<Relationship Id="rId2" Type="{REL}/sharedStrings" Target="sharedStrings.xml"/>'
                                  '</Relationships>',
}


@dataclass(frozen=True)
class Run:
    """A text of `length` times `char`, written in pieces so the test never holds it whole."""

    char: str
    length: int

    def chunks(self):
        piece = self.char.encode() * 1_000_000
        for _ in range(self.length // 1_000_000):
            yield piece
        yield self.char.encode() * (self.length % 1_000_000)


def column_name(index: int) -> str:
    name, index = "", index + 1
    while index:
        index, rest = divmod(index - 1, 26)
        name = chr(65 + rest) + name
    return name


def xlsx_file(path: Path, rows: list[list[str | Run]], dimension: str = "") -> Path:
    """A workbook whose first sheet holds `rows`, every value a shared string; `dimension` overrides what the
    sheet declares about its size."""
    strings: dict[str | Run, int] = {}
    sheet = []
    for number, row in enumerate(rows, 1):
        cells = "".join(f'<c r="{column_name(i)}{number}" t="s"><v>{strings.setdefault(value, len(strings))}</v></c>'
                        for i, value in enumerate(row))
        sheet.append(f'<row r="{number}">{cells}</row>')
    width = max((len(row) for row in rows), default=1)
    ref = dimension or f"A1:{column_name(width - 1)}{max(len(rows), 1)}"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", CONTENT_TYPES)
        for name, text in PARTS.items():
            archive.writestr(name, text)
        archive.writestr("xl/worksheets/sheet1.xml", f'<?xml version="1.0"?><worksheet xmlns="{NS}">'
                         f'<dimension ref="{ref}"/><sheetData>{"".join(sheet)}</sheetData></worksheet>')
        with archive.open("xl/sharedStrings.xml", "w", force_zip64=True) as target:
            target.write(f'<?xml version="1.0"?><sst xmlns="{NS}" uniqueCount="{len(strings)}">'.encode())
            for value in strings:
                target.write(b"<si><t>")
                for chunk in value.chunks() if isinstance(value, Run) else [escape(value).encode()]:
                    target.write(chunk)
                target.write(b"</t></si>")
            target.write(b"</sst>")
    return path
