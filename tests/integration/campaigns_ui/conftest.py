"""The campaign engine's queue drained in the test (the app's Redis client and pooled adapters come from
../conftest.py)."""

from tests.integration.campaigns.conftest import queue

__all__ = ["queue"]
