"""Tracking tests: the app's Redis client, and per-process link tables forgotten between tests (ids restart).

App modules are imported inside the fixtures: this file is loaded before the session sets the
environment the app reads at import.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture
def redis() -> Any:
    from app.redis_client import get_redis

    return get_redis()


@pytest.fixture(autouse=True)
def fresh_link_tables() -> Iterator[None]:
    from app.services.tracking.link_tables import forget_link_tables

    forget_link_tables()
    yield
    forget_link_tables()
