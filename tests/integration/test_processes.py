"""The real processes: a Dramatiq worker consuming from Redis, and clear refusals at startup."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid

import asyncpg
import pytest

from app.db.migrating import DatabaseNotReady, ensure_migrated, pending_migrations


@pytest.fixture
def worker():
    process = subprocess.Popen(
        [sys.executable, "-m", "dramatiq", "app.tasks", "--processes", "1", "--threads", "2"],
        env=os.environ.copy(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    yield process
    process.terminate()
    process.wait(timeout=30)


async def _wait_for(predicate, attempts: int = 300):
    for _ in range(attempts):
        result = await predicate()
        if result:
            return result
        await asyncio.sleep(0.1)
    return None


async def test_actor_runs_in_a_real_worker(worker):
    from app.redis_client import get_redis
    from app.tasks.system import ping

    key, value = f"test:ping:{uuid.uuid4().hex}", uuid.uuid4().hex
    ping.send(key, value)
    redis = get_redis()
    assert await _wait_for(lambda: redis.get(key)) == value
    outcomes = await _wait_for(lambda: redis.hget("ignite:metrics:actors", "ping:succeeded"))
    assert int(outcomes) >= 1


async def test_worker_heartbeat_reaches_health(worker, client):
    async def healthy():
        body = (await client.get("/health")).json()
        return body if body["workers"]["count"] >= 1 else None

    body = await _wait_for(healthy)
    assert body is not None and body["status"] == "ok"


async def test_unmigrated_database_is_refused_with_instructions(services):
    name = f"empty_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(services.database_url)
    await admin.execute(f"CREATE DATABASE {name}")
    await admin.close()
    dsn = services.database_url.rsplit("/", 1)[0] + f"/{name}"
    assert await pending_migrations(dsn)
    with pytest.raises(DatabaseNotReady, match="ignite migrate"):
        await ensure_migrated(dsn)


async def test_database_down_is_reported_clearly():
    with pytest.raises(DatabaseNotReady, match="Cannot connect to PostgreSQL"):
        await pending_migrations("postgresql://postgres@127.0.0.1:9/ignite")


def test_cli_with_database_down_prints_a_message_not_a_trace():
    env = {**os.environ, "DATABASE_URL": "postgresql://postgres@127.0.0.1:9/ignite"}
    result = subprocess.run([sys.executable, "-m", "app.cli", "migrate"], env=env, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 2
    assert "Cannot connect" in result.stderr or "connect" in result.stderr.lower()
    assert "Traceback" not in result.stderr


def test_production_without_secret_key_refuses_to_start():
    env = {k: v for k, v in os.environ.items() if k != "SECRET_KEY"}
    env["IGNITE_ENV"] = "production"
    result = subprocess.run([sys.executable, "-m", "app.cli", "migrate"], env=env, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 2
    assert "SECRET_KEY is not set" in result.stderr


def test_web_server_refuses_an_unreachable_database_with_a_message():
    env = {**os.environ, "DATABASE_URL": "postgresql://postgres@127.0.0.1:9/ignite"}
    result = subprocess.run([sys.executable, "-m", "app.cli", "web"], env=env, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 2
    assert "Cannot connect to PostgreSQL" in result.stderr
    assert "Traceback" not in result.stderr
