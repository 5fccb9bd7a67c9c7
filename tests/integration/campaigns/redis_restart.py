"""Restarting the test session's own Redis, as an operator (or a crash) would, and leaving it running."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from app.embedded import port_is_open, start_redis


def _folder() -> Path:
    return Path(os.environ["IGNITE_DATA_DIR"]) / "redis"


def _port() -> int:
    return int(urlsplit(os.environ["REDIS_URL"]).port or 6379)


def _stopped(port: int, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while port_is_open(port):
        if time.monotonic() > deadline:
            raise AssertionError("Redis did not stop")
        time.sleep(0.02)


def restart_redis(*, crash: bool = False, lose_data: bool = False) -> None:
    """Stop Redis (SIGTERM, or SIGKILL for a crash), optionally delete what it wrote to disk, start it again."""
    folder, port = _folder(), _port()
    pid = int((folder / "redis.pid").read_text().strip())
    os.kill(pid, signal.SIGKILL if crash else signal.SIGTERM)
    _stopped(port)
    if crash:
        (folder / "redis.pid").unlink(missing_ok=True)
    if lose_data:
        for name in ("appendonly.aof", "dump.rdb"):
            (folder / name).unlink(missing_ok=True)
    assert start_redis(folder, port)


async def restart_redis_under(redis: Any, *, crash: bool = False, lose_data: bool = False) -> None:
    """`restart_redis`, then drop this process's connections to the old server (the app's clients, built
    without retries, would each fail one command on a connection the old server closed)."""
    from app.tasks.broker import broker

    restart_redis(crash=crash, lose_data=lose_data)
    await redis.connection_pool.disconnect()
    broker.client.connection_pool.disconnect()


def append_only_file() -> Path:
    return _folder() / "appendonly.aof"
