"""Campaign tests: a send queue kept in the test process and real worker processes (the session's Redis and
pooled adapters come from ../conftest.py).

App modules are imported inside the fixtures: this file is loaded before the session sets the
environment the app reads at import.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture
def queue() -> Any:
    from tests.integration.campaigns.helpers import LocalQueue

    return LocalQueue()


@pytest.fixture
def start_worker(tmp_path: Path) -> Iterator[Any]:
    """Starts real `ignite worker` processes (with extra environment if given); stops them after the test."""
    from tests.integration.campaigns.workers import THREADS, Worker

    started: list[Worker] = []

    def start(env: dict[str, str] | None = None) -> Worker:
        worker = Worker(tmp_path / f"worker-{len(started)}.log", threads=THREADS, env=env)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.terminate()
    for worker in started:
        worker.wait()
