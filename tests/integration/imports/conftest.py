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
