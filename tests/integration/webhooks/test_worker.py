"""A real Dramatiq worker on the `webhooks` queue posts what is published, woken at once (after the commit for an
event published inside a transaction), without waiting for the minute's retry job."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Iterator

import pytest

import app.tasks.webhooks  # noqa: F401  (the delivery worker's wake, as every process that publishes has it)
from app.piccolo_conf import DB
from app.services import webhooks
from tests.factories import make_workspace
from tests.integration.webhooks.helpers import loopback_endpoint
from tests.integration.webhooks.receiver import Receiver, running_receiver


@pytest.fixture
def webhooks_worker() -> Iterator[None]:
    process = subprocess.Popen(
        [sys.executable, "-m", "dramatiq", "app.tasks", "--processes", "1", "--threads", "1", "--queues", "webhooks"],
        env=os.environ.copy(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    yield
    process.terminate()
    process.wait(timeout=30)


async def _received(receiver: Receiver, count: int, seconds: float = 30) -> int:
    for _ in range(int(seconds * 10)):
        if len(receiver.received) >= count:
            break
        await asyncio.sleep(0.1)
    return len(receiver.received)


async def test_published_events_are_posted_by_the_worker_as_soon_as_they_are_committed(webhooks_worker):
    workspace = await make_workspace()
    async with running_receiver() as receiver:
        _, secret = await loopback_endpoint(workspace, receiver.url, events=("message.bounced",))
        await webhooks.publish(workspace["id"], "message.bounced", {"email": "first@example.org"})
        assert await _received(receiver, 1) == 1
        async with DB.transaction():
            await webhooks.publish(workspace["id"], "message.bounced", {"email": "second@example.org"})
        assert await _received(receiver, 2) == 2
    assert [r.json()["data"]["email"] for r in receiver.received] == ["first@example.org", "second@example.org"]
    assert all(r.signed_by(secret) for r in receiver.received)
