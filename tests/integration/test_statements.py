"""Every named SQL statement fits the migrated schema; one that does not stops start-up with its name."""

import os

import asyncpg
import pytest

from app.services import statements


async def _connection() -> asyncpg.Connection:
    return await asyncpg.connect(os.environ["DATABASE_URL"])


async def test_every_named_statement_prepares():
    assert "suppression.add-entries" in statements.all_statements()
    connection = await _connection()
    try:
        await statements.check_all(connection)
    finally:
        await connection.close()


async def test_a_statement_that_no_longer_fits_is_named(monkeypatch):
    broken = {**statements.all_statements(), "lists.broken": "SELECT no_such_column FROM lists"}
    monkeypatch.setattr(statements, "all_statements", lambda: broken)
    connection = await _connection()
    try:
        with pytest.raises(statements.StatementError, match=r"lists\.broken"):
            await statements.check_all(connection)
    finally:
        await connection.close()


def test_an_unknown_name_is_an_error():
    with pytest.raises(statements.StatementError):
        statements.statement("suppression.no-such-statement")
