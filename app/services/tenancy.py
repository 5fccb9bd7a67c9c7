"""Every customer row belongs to a workspace; these helpers make the filter impossible to forget.

Queries on customer tables go through `owned_by()` (a WHERE clause) or
`fetch_owned()` (one row or None). An object of another workspace is simply
not found, which routes turn into a 404.
"""

from __future__ import annotations

from typing import Any

from piccolo.columns import BigSerial
from piccolo.columns.combination import Where
from piccolo.table import Table

# Tables that hold no customer data of their own: the tenants and their people.
# platform_sending_stop is the operator's kill switch over every workspace.
GLOBAL_TABLES = frozenset({"workspaces", "users", "password_resets", "migration", "platform_sending_stop"})


class TenancyError(ValueError):
    """A query was about to run without a valid workspace."""


def checked_workspace_id(workspace_id: object) -> int:
    if isinstance(workspace_id, bool) or not isinstance(workspace_id, int) or workspace_id <= 0:
        raise TenancyError(f"a workspace id is required, got {workspace_id!r}")
    return workspace_id


def owned_by(table: type[Table], workspace_id: int) -> Where:
    column = table._meta.get_column_by_name("workspace_id")
    return column == checked_workspace_id(workspace_id)  # type: ignore[return-value]


def row_id(table: type[Table], object_id: object) -> int | None:
    """`object_id` as a key of `table`, or None when it is malformed or no key column of its type can hold it."""
    try:
        pk = int(object_id)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return None
    highest = 2**63 - 1 if isinstance(table._meta.primary_key, BigSerial) else 2**31 - 1
    return pk if 0 < pk <= highest else None


async def fetch_owned(table: type[Table], workspace_id: int, object_id: object) -> dict[str, Any] | None:
    """The row with this id in this workspace, or None (also for a malformed id)."""
    pk = row_id(table, object_id)
    if pk is None:
        return None
    return await (
        table.select()
        .where(owned_by(table, workspace_id), table._meta.primary_key == pk)
        .first()
    )
