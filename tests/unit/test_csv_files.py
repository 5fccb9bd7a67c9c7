"""The one CSV writer: cells a spreadsheet would run as a formula are written as text."""

from datetime import UTC, datetime

from app.services.csv_files import CsvRows, safe_cell


def test_formula_leading_cells_get_a_quote_and_others_stay_as_they_are():
    for text in ("=1+1", "+1", "-1", "@A1", "\tx", "\rx"):
        assert safe_cell(text) == "'" + text
    for text in ("", "plain", "a=b", "'quoted", " =spaced"):
        assert safe_cell(text) == text
    assert safe_cell(None) == ""
    assert safe_cell(-5) == -5 and safe_cell(2.5) == 2.5


def test_rows_come_out_as_utf8_csv_chunks():
    rows = CsvRows(("email", "note"))
    assert rows.header() == b"email,note\r\n"
    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert rows.encode([("zoë@example.com", "=x"), (3, when)]) == \
        "zoë@example.com,'=x\r\n3,2026-01-02 03:04:05+00:00\r\n".encode()
    assert rows.encode([]) == b""
