"""Applying migrations and checking that a database is up to date."""

from __future__ import annotations

import asyncpg
from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.apps.migrations.commands.forwards import run_forwards

from app.db.piccolo_app import APP_CONFIG, MIGRATIONS_FOLDER

APP_NAME = APP_CONFIG.app_name


class DatabaseNotReady(RuntimeError):
    """The database is unreachable or not migrated; the message says what to run."""


def sql_step(sql: str):
    """A migration step that runs a block of SQL statements atomically on their own connection.

    asyncpg's simple-query protocol runs several statements in one round trip,
    which Piccolo's prepared-statement path does not.
    """

    async def run() -> None:
        from app.piccolo_conf import DB

        connection = await asyncpg.connect(DB.config["dsn"])
        try:
            async with connection.transaction():
                await connection.execute(sql)
        finally:
            await connection.close()

    return run


def sql_migration(migration_id: str, description: str, sql: str):
    """The `forwards()` of a migration that is one block of SQL, as every Ignite migration is."""
    async def forwards() -> MigrationManager:
        manager = MigrationManager(migration_id=migration_id, app_name=APP_NAME, description=description)
        manager.add_raw(sql_step(sql))
        return manager

    return forwards


def known_migration_ids() -> list[str]:
    ids = []
    for path in sorted(MIGRATIONS_FOLDER.glob("m*.py")):
        for line in path.read_text().splitlines():
            if line.startswith("ID = "):
                ids.append(line.split("=", 1)[1].strip().strip("\"'"))
    return sorted(ids)


async def migrate() -> None:
    from app.piccolo_conf import DB

    # Fails with a clear message when the server is unreachable, before Piccolo tries.
    await pending_migrations(DB.config["dsn"])
    result = await run_forwards(app_name=APP_NAME, migration_id="all")
    if not result.success:
        raise DatabaseNotReady(f"Migrations failed: {result.message}")


async def pending_migrations(dsn: str) -> list[str]:
    """Migration ids in `migrations/` that the database has not applied."""
    try:
        connection = await asyncpg.connect(dsn, timeout=5)
    except (OSError, asyncpg.PostgresError) as exc:
        raise DatabaseNotReady(
            f"Cannot connect to PostgreSQL ({exc.__class__.__name__}: {exc}). Is it running, and is "
            "DATABASE_URL right? `make run` starts an embedded server when DATABASE_URL is unset."
        ) from exc
    try:
        has_table = await connection.fetchval("SELECT to_regclass('public.migration') IS NOT NULL")
        applied = set()
        if has_table:
            rows = await connection.fetch("SELECT name FROM migration WHERE app_name = $1", APP_NAME)
            applied = {row["name"] for row in rows}
    finally:
        await connection.close()
    return [mid for mid in known_migration_ids() if mid not in applied]


async def ensure_migrated(dsn: str) -> None:
    pending = await pending_migrations(dsn)
    if pending:
        raise DatabaseNotReady(
            f"The database has {len(pending)} unapplied migration(s) ({', '.join(pending)}). "
            "Run `ignite migrate` first."
        )
