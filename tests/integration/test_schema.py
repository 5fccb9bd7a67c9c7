"""The migrated schema matches the Piccolo tables, and every customer table carries workspace_id."""

import asyncpg

from app.db.piccolo_app import APP_CONFIG
from app.services.tenancy import GLOBAL_TABLES


async def _columns(dsn: str) -> dict[str, set[str]]:
    connection = await asyncpg.connect(dsn)
    try:
        rows = await connection.fetch(
            "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'public'"
        )
    finally:
        await connection.close()
    columns: dict[str, set[str]] = {}
    for row in rows:
        columns.setdefault(row["table_name"], set()).add(row["column_name"])
    return columns


async def test_every_piccolo_column_exists_in_the_database(services):
    columns = await _columns(services.database_url)
    for table in APP_CONFIG.table_classes:
        name = table._meta.tablename
        assert name in columns, f"table {name} is not created by any migration"
        missing = {c._meta.db_column_name for c in table._meta.columns} - columns[name]
        assert not missing, f"{name} lacks {missing}"


async def test_every_customer_table_has_workspace_id(services):
    columns = await _columns(services.database_url)
    for name, names in columns.items():
        if name in GLOBAL_TABLES:
            continue
        assert "workspace_id" in names, f"{name} holds customer data but has no workspace_id"
