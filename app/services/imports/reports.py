"""The rejected rows of an import as a CSV download, streamed in keyset pages."""

from __future__ import annotations

from collections.abc import AsyncIterator

from app.db.imports import ImportReject
from app.services.csv_files import CsvRows
from app.services.tenancy import owned_by

PAGE_ROWS = 5000


async def rejects_csv(workspace_id: int, import_id: int) -> AsyncIterator[bytes]:
    """row, email, reason, raw: one line per rejected row, in file order. The cells hold what the file held,
    formulas included, so they are written through the escaping writer."""
    rows = CsvRows(("row", "email", "reason", "raw"))
    yield rows.header()
    after = -1
    while True:
        page = await ImportReject.select(
            ImportReject.row_number, ImportReject.email, ImportReject.reason, ImportReject.raw
        ).where(
            owned_by(ImportReject, workspace_id), ImportReject.import_id == import_id,
            ImportReject.row_number > after,
        ).order_by(ImportReject.row_number).limit(PAGE_ROWS)
        yield rows.encode((r["row_number"], r["email"], r["reason"], r["raw"]) for r in page)
        if len(page) < PAGE_ROWS:
            return
        after = page[-1]["row_number"]
