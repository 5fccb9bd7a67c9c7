"""Numbers and ids typed or picked in a form (or an API body): read, bounded, and ids held to the workspace.

A value that is not a number, or one its column cannot hold, is a message next to its field (the
caller's `FormError`). An id that names nothing in this workspace (another workspace's, a deleted one,
one no column could hold) is a `LookupError`, which the web layer answers with 404: the answer is the
same whether or not the id exists elsewhere, so it tells nobody which ids other workspaces use.
"""

from __future__ import annotations

from piccolo.table import Table

from app.services.forms import FormError
from app.services.tenancy import owned_by

# Serial keys and counts are PostgreSQL integers; no row has an id outside this range.
LARGEST_INTEGER = 2**31 - 1


def whole_number(value: object, field: str, error: type[FormError], message: str, *, low: int = 0,
                 high: int = LARGEST_INTEGER, default: int | None = None) -> int | None:
    """The whole number typed in `field`, within low..high; `default` when left empty."""
    text = str(value if value is not None else "").strip()
    if not text:
        return default
    if not text.isdigit() or not low <= int(text) <= high:
        raise error({field: message})
    return int(text)


def chosen_id(value: object, field: str, error: type[FormError], message: str) -> int | None:
    """The id picked in `field` ("" means none was picked), or `error` with `message` when it is not an id."""
    text = str(value if value is not None else "").strip()
    if not text:
        return None
    if not text.isdigit():
        raise error({field: message})
    return int(text)


async def owned_id(table: type[Table], workspace_id: int, object_id: int | None) -> int | None:
    """`object_id` when a row of `table` in this workspace has it (None stays None); LookupError otherwise."""
    if object_id is None:
        return None
    if not 0 < object_id <= LARGEST_INTEGER or not await table.exists().where(
            owned_by(table, workspace_id), table._meta.primary_key == object_id):
        raise LookupError(f"{table._meta.tablename} {object_id}")
    return object_id
