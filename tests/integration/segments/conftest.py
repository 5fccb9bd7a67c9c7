"""Fixtures of the segment tests; app modules are imported lazily, after the test services start."""

import pytest


@pytest.fixture
async def audience() -> dict:
    from tests.integration.segments.helpers import make_audience

    return await make_audience()
