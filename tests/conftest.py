"""The test session starts real PostgreSQL and Redis once (embedded, on free ports) and migrates,
unless it runs only unit tests, which need neither.

Environment variables (the servers' URLs among them) are set in pytest_configure, before any app
module is imported, because settings and the Piccolo engine read them at import time; the servers
themselves start unless every path pytest was given lies under tests/unit.
Each of those tests starts from empty tables and an empty Redis database.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

BROWSER_AGENT = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 "
                 "Safari/537.36")

_state: dict = {}


def pytest_configure(config: pytest.Config) -> None:
    folder = Path(tempfile.mkdtemp(prefix="ignite-test-"))
    os.environ.update({
        "IGNITE_DATA_DIR": str(folder),
        "SECRET_KEY": "test-secret-key-that-is-long-enough-0123456789",
        "IGNITE_ENV": "test",
        "LOG_LEVEL": "WARNING",
        # The engine's tests count in batches of 250 (the default is 500): smaller audiences show every edge.
        "SEND_BATCH_SIZE": "250",
    })
    from app.embedded import DATABASE_NAME, free_port

    pg_port, redis_port = free_port(), free_port()
    os.environ["DATABASE_URL"] = f"postgresql://postgres@127.0.0.1:{pg_port}/{DATABASE_NAME}"
    os.environ["REDIS_URL"] = f"redis://127.0.0.1:{redis_port}/0"
    _state["folder"] = folder
    if not _only_unit_tests(config):
        _start_services(folder, pg_port, redis_port)


def _only_unit_tests(config: pytest.Config) -> bool:
    unit = Path(__file__).parent / "unit"
    paths = [Path(arg.split("::")[0]).resolve() for arg in config.args] or [Path(config.rootpath, "tests")]
    return all(path.is_relative_to(unit) for path in paths)


def _start_services(folder: Path, pg_port: int, redis_port: int) -> None:
    from app.embedded import EmbeddedServices, start_postgres, start_redis

    started = [name for name, start, port in (("postgres", start_postgres, pg_port), ("redis", start_redis, redis_port))
               if start(folder / name, port)]
    _state["services"] = EmbeddedServices(os.environ["DATABASE_URL"], os.environ["REDIS_URL"], tuple(started))
    from app.db.migrating import migrate

    asyncio.run(migrate())


def pytest_unconfigure(config: pytest.Config) -> None:
    if "services" in _state:
        from app.embedded import stop_services

        stop_services(_state["folder"], _state["services"])
    if "folder" in _state:
        shutil.rmtree(_state["folder"], ignore_errors=True)


@pytest.fixture(scope="session")
def services():
    return _state["services"]


async def _truncate_everything() -> None:
    import asyncpg

    connection = await asyncpg.connect(os.environ["DATABASE_URL"])
    try:
        tables = await connection.fetch(
            "SELECT c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition "
            "AND c.relname <> 'migration'"
        )
        # TRUNCATE of every table took ~90 ms a test (new files for each table and index), most of them empty:
        # only the tables a test wrote to are emptied, row by row, with foreign keys unchecked meanwhile.
        # Ids keep counting, as in production: a server process that outlives a test (the E2E web server,
        # send workers) caches per campaign id, and must never meet a new campaign under an old id.
        probes = " UNION ALL ".join(f"""SELECT '{name}' AS name WHERE EXISTS (SELECT 1 FROM "{name}")"""
                                    for name in (row["name"] for row in tables))
        written = [row["name"] for row in await connection.fetch(probes)] if tables else []
        if written:
            async with connection.transaction():
                await connection.execute("SET LOCAL session_replication_role = replica")
                for name in written:
                    await connection.execute(f'DELETE FROM "{name}"')
    finally:
        await connection.close()


@pytest.fixture(autouse=True)
async def clean_state() -> AsyncIterator[None]:
    yield
    if "services" not in _state:
        return
    from app.redis_client import get_broker_redis, get_redis

    await _truncate_everything()
    await get_redis().flushdb()
    await get_broker_redis().flushdb()


@pytest.fixture(scope="session")
async def app():
    """The app with its lifespan (pool, migration check) entered on the tests' own event loop.

    Litestar's AsyncTestClient would run the lifespan on a separate loop, where
    the connection pool could not be shared with test code.
    """
    from app.main import create_app, database_pool

    application = create_app()
    async with database_pool(application):
        yield application


@pytest.fixture(scope="session")
def server(app):
    """The app as the web server serves it (`create_server`): opens and clicks answered in front of it."""
    from app.routes.tracking import tracking_fast_path

    return tracking_fast_path(app)


@pytest.fixture
async def client(server):
    import httpx

    transport = httpx.ASGITransport(app=server, client=("127.0.0.1", 50000))
    # httpx's own User-Agent is on CrawlerDetect's list: tracked opens and clicks would count as robots.
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000",
                                 headers={"User-Agent": BROWSER_AGENT}) as test_client:
        yield test_client
