"""Tracking tests: the app's Redis client (links compiled per process are forgotten by ../conftest.py).

App modules are imported inside the fixtures: this file is loaded before the session sets the
environment the app reads at import.
"""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture
def redis() -> Any:
    from app.redis_client import get_redis

    return get_redis()
