"""Hand-written SQL with asyncpg's numbered parameters, composed from fragments and run on Piccolo's engine.

Fragments built by different services (a segment's WHERE, the suppression
filter, a campaign's INSERT ... SELECT) share one `Params`, so every user value
travels as `$n` and no fragment ever needs to renumber another's placeholders.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from app.piccolo_conf import DB


class Params:
    """The positional parameters of one statement; `add` returns the placeholder of the value."""

    def __init__(self) -> None:
        self.values: list[Any] = []

    def add(self, value: Any) -> str:
        self.values.append(value)
        return f"${len(self.values)}"


async def fetch(sql: str, params: Params | None = None) -> list[dict[str, Any]]:
    """Rows as dicts; joins the caller's Piccolo transaction when there is one, else uses the pool."""
    return await fetch_positional(sql, params.values if params else [])


async def fetch_positional(sql: str, args: Sequence[Any]) -> list[dict[str, Any]]:
    """Rows as dicts of a statement whose `$n` parameters are `args`, on the caller's transaction if any."""
    transaction = DB.current_transaction.get()
    if transaction is not None:
        rows = await transaction.connection.fetch(sql, *args)
    elif DB.pool is not None:
        async with DB.pool.acquire() as connection:
            rows = await connection.fetch(sql, *args)
    else:
        connection = await DB.get_new_connection()
        try:
            rows = await connection.fetch(sql, *args)
        finally:
            await connection.close()
    return [dict(row) for row in rows]
