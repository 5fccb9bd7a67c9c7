"""The campaign engine's fixtures (the app's Redis client, pooled adapters, a queue drained in the test)."""

from tests.integration.campaigns.conftest import adapters, queue, redis

__all__ = ["adapters", "queue", "redis"]
