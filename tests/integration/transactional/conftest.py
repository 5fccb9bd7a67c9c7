"""Transactional tests: the message queue kept in the test process, and real worker processes (the session's
Redis and pooled adapters come from ../conftest.py).

App modules are imported inside the fixtures: this file is loaded before the session sets the environment the
app reads at import.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture
def queue(monkeypatch: pytest.MonkeyPatch) -> Any:
    """What the API queues lands here instead of on the broker; the test drains it as the worker would."""
    from app.routes.api import messages
    from tests.integration.transactional.helpers import LocalMessageQueue

    local = LocalMessageQueue()
    monkeypatch.setattr(messages, "QUEUE", local)
    return local


@pytest.fixture
def start_workers(tmp_path: Path) -> Iterator[Any]:
    """Starts `ignite worker` as it runs: general worker processes and the transactional queue's own."""
    from tests.integration.campaigns.workers import Worker
    from tests.integration.transactional.helpers import TransactionalWorker

    started: list[Any] = []

    def start() -> None:
        started.append(Worker(tmp_path / "general.log", threads=2))
        started.append(TransactionalWorker(tmp_path / "transactional.log"))

    yield start
    for worker in started:
        worker.terminate()
    for worker in started:
        worker.wait()
