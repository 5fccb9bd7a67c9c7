"""Fixtures of the import tests. App modules are imported lazily: this file loads before the test
session has pointed the settings at the embedded servers."""

from __future__ import annotations

import asyncpg
import pytest


@pytest.fixture
async def db(services):
    connection = await asyncpg.connect(services.database_url)
    yield connection
    await connection.close()


@pytest.fixture
async def workspace():
    from tests.factories import make_workspace

    return await make_workspace()


@pytest.fixture(scope="session")
def s3_endpoint():
    """A moto S3 server on a free loopback port, reached through boto3 like real S3."""
    from moto.server import ThreadedMotoServer

    from app.embedded import free_port

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def configure(monkeypatch):
    """Settings from environment variables for one test; the cached settings are rebuilt around it."""
    from app.settings import get_settings

    def apply(**values: object) -> None:
        for name, value in values.items():
            monkeypatch.setenv(name, str(value))
        get_settings.cache_clear()

    yield apply
    monkeypatch.undo()
    get_settings.cache_clear()
