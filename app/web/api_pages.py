"""Cursor pagination for the JSON API: `?limit=&cursor=` in, `{"data": [...], "next_cursor": ...}` out.

A cursor is opaque to the caller: the keyset position after the last row of a page (usually its id),
encoded, so the next page is one index range scan however deep it is.
"""

from __future__ import annotations

import base64
import json
from typing import Any, Generic, TypeVar

from msgspec import Struct

from app.web.errors import ApiError

T = TypeVar("T")
DEFAULT_LIMIT = 50
MAX_LIMIT = 500


class Page(Struct, Generic[T]):
    data: list[T]
    next_cursor: str | None = None


def page_limit(limit: int | None) -> int:
    if limit is None:
        return DEFAULT_LIMIT
    if not 1 <= limit <= MAX_LIMIT:
        raise ApiError(400, "invalid_limit", f"limit must be between 1 and {MAX_LIMIT}.", {"limit": "out of range"})
    return limit


def encode_cursor(position: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(position, separators=(",", ":")).encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> Any:
    """The position a cursor names, or None for the first page; a cursor that was not ours is a 400."""
    if not cursor:
        return None
    try:
        return json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(400, "invalid_cursor", "That cursor was not given by this API.", {"cursor": "invalid"}) from exc
