"""Integration tests: the session's Redis through the app's own client, pooled send adapters, and
process-wide caches of a campaign version's links forgotten around each test.

A test may change a campaign's snapshot in place, which production never does, so no list of links
compiled in this process outlives the test that compiled it. App modules are imported inside the
fixtures: this file is loaded before the session sets the environment the app reads at import.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest


@pytest.fixture(autouse=True)
def fresh_links() -> Iterator[None]:
    from app.services.campaigns.click_map import forget_sent_links
    from app.services.tracking.link_tables import forget_link_tables

    forget_link_tables()
    forget_sent_links()
    yield
    forget_link_tables()
    forget_sent_links()


@pytest.fixture
def redis() -> Any:
    from app.redis_client import get_redis

    return get_redis()


@pytest.fixture
async def adapters() -> AsyncIterator[Any]:
    from app.services.sending import Adapters

    pool = Adapters()
    yield pool
    await pool.aclose()


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """A moto S3 server on a free loopback port, reached through boto3 like real S3."""
    from moto.server import ThreadedMotoServer

    from app.embedded import free_port

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()
