"""Prometheus metrics: request counters in every web process, queue and actor figures from Redis.

Web processes share counters through prometheus_client's multiprocess mode
when PROMETHEUS_MULTIPROC_DIR is set (as `ignite web` does); workers record
actor outcomes in a Redis hash so any web process can report them.
"""

from __future__ import annotations

import os

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest, multiprocess
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from redis.asyncio import Redis
from redis.exceptions import RedisError

from app.redis_client import get_broker_redis

QUEUES = ("send", "tracking", "bounces", "imports", "default")
ACTOR_OUTCOMES_KEY = "ignite:metrics:actors"

REQUESTS = Counter("ignite_http_requests_total", "HTTP requests", ["method", "route", "status"])
LATENCY = Histogram(
    "ignite_http_request_seconds", "HTTP request latency", ["route"],
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)


def _process_registry() -> CollectorRegistry:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return registry
    from prometheus_client import REGISTRY

    return REGISTRY


class _Snapshot:
    """A collector over figures read from Redis just before rendering."""

    def __init__(self, queue_depths: dict[str, int], outcomes: dict[str, str]) -> None:
        self.queue_depths = queue_depths
        self.outcomes = outcomes

    def collect(self):
        depth = GaugeMetricFamily("ignite_queue_depth", "Messages waiting per Dramatiq queue", labels=["queue"])
        for queue, value in self.queue_depths.items():
            depth.add_metric([queue], value)
        yield depth
        outcomes = CounterMetricFamily("ignite_actor_runs", "Actor runs by outcome", labels=["actor", "outcome"])
        for field, value in self.outcomes.items():
            actor, _, outcome = field.rpartition(":")
            outcomes.add_metric([actor, outcome], float(value))
        yield outcomes


async def queue_depths(redis: Redis) -> dict[str, int]:
    async with redis.pipeline(transaction=False) as pipe:
        for queue in QUEUES:
            pipe.llen(f"dramatiq:{queue}")
        values = await pipe.execute()
    return dict(zip(QUEUES, (int(v) for v in values), strict=True))


async def render_metrics(redis: Redis) -> bytes:
    registry = CollectorRegistry()
    for collector in (_process_registry(),):
        registry.register(_Forward(collector))
    try:
        snapshot = _Snapshot(await queue_depths(get_broker_redis()), await redis.hgetall(ACTOR_OUTCOMES_KEY))
    except RedisError:
        snapshot = _Snapshot({}, {})
    registry.register(snapshot)
    return generate_latest(registry)


class _Forward:
    """Re-exports another registry's metrics inside a per-scrape registry."""

    def __init__(self, source: CollectorRegistry) -> None:
        self.source = source

    def collect(self):
        yield from self.source.collect()
