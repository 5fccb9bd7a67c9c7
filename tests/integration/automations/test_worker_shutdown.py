"""The minute job's loop leaves cleanly when the worker shuts down: the worker closes the database pool first,
and the run stops instead of failing with "pool is closing" or carrying on over fresh connections."""

from __future__ import annotations

import asyncpg
import pytest

from app.piccolo_conf import DB
from app.services.automations import engine
from app.tasks import automations as tasks


@pytest.fixture
async def own_pool(monkeypatch) -> asyncpg.Pool:
    """A pool of the run's own that the test closes as the worker would, the suite's left alone."""
    pool = await asyncpg.create_pool(**DB.config, min_size=1, max_size=2)
    monkeypatch.setattr(DB, "pool", pool)
    monkeypatch.setattr(tasks, "ADVANCE_SECONDS", 3600)
    yield pool
    await pool.close()


def _closing_after(monkeypatch, pool: asyncpg.Pool, calls: int, *, inside: bool) -> list[int]:
    """advance_due as it is, the pool closed at its `calls`-th call: inside it (under a batch) or after it."""
    real = engine.advance_due
    made: list[int] = []

    async def advance_due(*args, **kwargs) -> int:
        made.append(1)
        if inside and len(made) == calls:
            await pool.close()
        ran = await real(*args, **kwargs)
        if not inside and len(made) == calls:
            await pool.close()
        return ran

    monkeypatch.setattr(engine, "advance_due", advance_due)
    return made


async def test_a_run_leaves_its_loop_once_the_pool_closes_between_batches(own_pool, monkeypatch):
    made = _closing_after(monkeypatch, own_pool, 1, inside=False)

    await tasks.advance_flows.fn.__wrapped__()

    assert len(made) == 1


async def test_a_batch_the_closing_pool_cuts_short_ends_the_run_without_an_error(own_pool, monkeypatch):
    made = _closing_after(monkeypatch, own_pool, 2, inside=True)

    await tasks.advance_flows.fn.__wrapped__()

    assert len(made) == 2


async def test_a_database_error_while_the_pool_is_open_still_fails_the_run(own_pool, monkeypatch):
    async def refused(*args, **kwargs) -> int:
        raise asyncpg.InterfaceError("connection is closed")

    monkeypatch.setattr(engine, "advance_due", refused)
    with pytest.raises(asyncpg.InterfaceError):
        await tasks.advance_flows.fn.__wrapped__()
