"""What the management API's controllers share: id and page parameters, and pages of rows."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Annotated, Any, TypeVar

import msgspec
from litestar.params import Parameter
from msgspec import Meta

from app.services.form_input import LARGEST_INTEGER
from app.web.api_pages import MAX_LIMIT, Page, decode_cursor, encode_cursor, page_limit
from app.web.errors import ApiError

T = TypeVar("T")

# An id of a row in the body: what an integer column holds, so a wild number is a 400, never a database error.
BodyId = Annotated[int, Meta(ge=1, le=LARGEST_INTEGER)]
Limit = Annotated[int | None, Parameter(ge=1, le=MAX_LIMIT, description=f"Rows per page, 1 to {MAX_LIMIT}.")]
Cursor = Annotated[str | None, Parameter(description="The `next_cursor` of the previous page.")]


def not_ours() -> ApiError:
    return ApiError(400, "invalid_cursor", "That cursor was not given by this API.", {"cursor": "invalid"})


def id_after(cursor: str | None) -> int | None:
    """The id (of a serial column) a page of rows in id order continues after; a cursor naming none is a 400."""
    position = decode_cursor(cursor)
    if position is not None and (isinstance(position, bool) or not isinstance(position, int)
                                 or not 0 <= position <= LARGEST_INTEGER):
        raise not_ours()
    return position


def shaped(row: Mapping[str, Any], shape: type[T]) -> T:
    """A row (a dict from a service) as the typed body the schema describes; columns it does not name are left."""
    return msgspec.convert(row, shape, from_attributes=False, strict=False)


def page_of(rows: Sequence[Mapping[str, Any]], limit: int, shape: type[T]) -> Page[T]:
    """A page in id order from up to `limit + 1` rows fetched: the extra row only says that there is a next page."""
    shown = rows[:limit]
    more = len(rows) > limit and shown
    return Page(data=[shaped(row, shape) for row in shown], next_cursor=encode_cursor(shown[-1]["id"]) if more
                else None)


__all__ = ["BodyId", "Cursor", "Limit", "id_after", "not_ours", "page_limit", "page_of", "shaped"]
