"""`ignite worker` runs the general worker processes and the transactional queue's own, and stops them together."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Iterator

import pytest

from app.services.health import HEARTBEAT_PREFIX
from tests.integration.campaigns.helpers import wait_for


@pytest.fixture
def ignite_worker() -> Iterator[subprocess.Popen]:
    command = subprocess.Popen([sys.executable, "-m", "app.cli", "worker"],
                               env={**os.environ, "WORKER_PROCESSES": "1", "WORKER_THREADS": "1"},
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    yield command
    if command.poll() is None:
        os.killpg(command.pid, signal.SIGKILL)
        command.wait(timeout=30)


async def test_ignite_worker_starts_a_process_for_the_transactional_queue_beside_the_others(
        redis, ignite_worker) -> None:
    async def beating() -> list[str]:
        keys = [key async for key in redis.scan_iter(match=f"{HEARTBEAT_PREFIX}*")]
        return keys if len(keys) >= 2 else []

    # One general worker process and the transactional one.
    assert len(await wait_for(beating, 60, what="two worker processes")) == 2
    ignite_worker.send_signal(signal.SIGTERM)
    assert await asyncio.to_thread(ignite_worker.wait, 60) == 0
