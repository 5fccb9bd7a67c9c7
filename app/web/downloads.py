"""Files a page hands to the browser to save."""

from __future__ import annotations

from collections.abc import AsyncIterable, Iterable

from litestar.response import Stream


def csv_download(chunks: AsyncIterable[bytes] | Iterable[bytes], filename: str) -> Stream:
    """A CSV file the browser saves as `filename`, streamed as it is written."""
    # Litestar adds the charset of a text/ type itself: naming it here would send it twice.
    return Stream(chunks, media_type="text/csv", headers={"Content-Disposition": f'attachment; filename="{filename}"'})
