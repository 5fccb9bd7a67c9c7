"""Named SQL: the big set-based statements, kept in `app/services/sql/<area>.sql` under `-- name: <name>`
lines (listmonk's layout), run with asyncpg's numbered parameters.

`check_all` prepares every one against the database when a process starts, so a statement broken by a
schema change stops the app at boot rather than at a marketer's first click. Statements that create
temporary tables run first (in a transaction that is rolled back) so that the others can refer to them.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Any

from asyncpg import Connection

from app.services.sqlparams import fetch_positional

FOLDER = Path(__file__).parent / "sql"
NAME_LINE = re.compile(r"^--\s*name:\s*(\S+)\s*$", re.MULTILINE)


class StatementError(RuntimeError):
    """A named statement is missing, or no longer fits the database."""


@cache
def all_statements() -> dict[str, str]:
    """Every statement by its qualified name, `<file stem>.<name>`."""
    found: dict[str, str] = {}
    for path in sorted(FOLDER.glob("*.sql")):
        parts = NAME_LINE.split(path.read_text())
        for name, body in zip(parts[1::2], parts[2::2], strict=True):
            found[f"{path.stem}.{name}"] = body.strip().rstrip(";")
    return found


def statement(name: str) -> str:
    try:
        return all_statements()[name]
    except KeyError as exc:
        raise StatementError(f"No SQL statement named {name!r} in {FOLDER}") from exc


async def run(name: str, *args: Any) -> list[dict[str, Any]]:
    """The rows of a named statement; joins the caller's transaction when there is one."""
    return await fetch_positional(statement(name), args)


def _creates_temporary_table(sql: str) -> bool:
    return sql.lstrip().upper().startswith(("CREATE TEMP", "CREATE TEMPORARY"))


async def check_all(connection: Connection) -> None:
    """Prepare every statement; raise naming the first that the database refuses."""
    statements = all_statements()
    transaction = connection.transaction()
    await transaction.start()
    try:
        ordered = sorted(statements.items(), key=lambda item: not _creates_temporary_table(item[1]))
        for name, sql in ordered:
            try:
                if _creates_temporary_table(sql):
                    await connection.execute(sql)
                else:
                    await connection.prepare(sql)
            except Exception as exc:
                raise StatementError(f"SQL statement {name!r} does not fit the database: {exc}") from exc
    finally:
        await transaction.rollback()
