"""The Dramatiq broker on Redis, configured once, with Ignite's queues and middleware."""

from __future__ import annotations

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware import AsyncIO, CurrentMessage

from app.settings import get_settings
from app.tasks.middleware import ActorOutcomes, DatabasePool, StructuredLogs, WorkerHeartbeat

# Queues named for their work, so operators can run dedicated workers per queue.
QUEUES = ("send", "tracking", "bounces", "imports", "default")


def build_broker(redis_url: str) -> RedisBroker:
    broker = RedisBroker(url=redis_url)
    for middleware in (
        StructuredLogs(), AsyncIO(), CurrentMessage(), DatabasePool(), WorkerHeartbeat(), ActorOutcomes()
    ):
        broker.add_middleware(middleware)
    for queue in QUEUES:
        broker.declare_queue(queue)
    return broker


broker = build_broker(get_settings().redis.broker_url)
dramatiq.set_broker(broker)
