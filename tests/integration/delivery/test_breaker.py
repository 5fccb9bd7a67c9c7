"""The circuit breaker in Redis: opens on consecutive failures, probes after a cool-down, closes on success."""

from __future__ import annotations

import os

from redis.asyncio import Redis

from app.services.throttling import (
    BreakerPolicy,
    CircuitState,
    breaker_allows,
    breaker_status,
    recent_decisions,
    record_failure,
    record_success,
)

POLICY = BreakerPolicy(failure_threshold=3, cooldown_seconds=30, success_threshold=2)
T0 = 1_700_000_000.0
SERVER = 9


async def _open(redis: Redis) -> None:
    for _ in range(3):
        await record_failure(redis, SERVER, POLICY, "connection refused", now=T0)


async def test_consecutive_failures_open_the_circuit(redis: Redis) -> None:
    for _ in range(2):
        status = await record_failure(redis, SERVER, POLICY, "421 try later", now=T0)
        assert (status.state, status.changed) == (CircuitState.CLOSED, False)

    status = await record_failure(redis, SERVER, POLICY, "554 go away", now=T0)

    assert (status.state, status.changed) == (CircuitState.OPEN, True)
    assert status.reason == "3 consecutive failures, last: 554 go away"
    refused = await breaker_allows(redis, SERVER, POLICY, now=T0 + 10)
    assert (refused.allowed, refused.retry_after) == (False, 20.0)


async def test_a_success_resets_the_failure_count(redis: Redis) -> None:
    await record_failure(redis, SERVER, POLICY, "timeout", now=T0)
    await record_failure(redis, SERVER, POLICY, "timeout", now=T0)
    await record_success(redis, SERVER, POLICY, now=T0)
    status = await record_failure(redis, SERVER, POLICY, "timeout", now=T0)
    assert (status.state, status.failures) == (CircuitState.CLOSED, 1)


async def test_after_the_cool_down_a_few_probes_go_through_and_close_it(redis: Redis) -> None:
    await _open(redis)
    later = T0 + 30

    first, second, third = [await breaker_allows(redis, SERVER, POLICY, now=later) for _ in range(3)]

    assert (first.state, first.previous, first.allowed) == (CircuitState.HALF_OPEN, CircuitState.OPEN, True)
    assert (second.allowed, third.allowed) == (True, False)
    await record_success(redis, SERVER, POLICY, now=later)
    closed = await record_success(redis, SERVER, POLICY, now=later)
    assert (closed.state, closed.changed, closed.reason) == (CircuitState.CLOSED, True, "2 probe sends succeeded")
    assert (await breaker_allows(redis, SERVER, POLICY, now=later)).allowed


async def test_a_failed_probe_opens_it_again_for_a_full_cool_down(redis: Redis) -> None:
    await _open(redis)
    await breaker_allows(redis, SERVER, POLICY, now=T0 + 30)

    status = await record_failure(redis, SERVER, POLICY, "550 still broken", now=T0 + 31)

    assert (status.state, status.reason) == (CircuitState.OPEN, "probe failed: 550 still broken")
    assert not (await breaker_allows(redis, SERVER, POLICY, now=T0 + 60)).allowed
    assert (await breaker_allows(redis, SERVER, POLICY, now=T0 + 61)).allowed


async def test_probes_that_never_report_are_handed_out_again(redis: Redis) -> None:
    await _open(redis)
    for _ in range(2):
        await breaker_allows(redis, SERVER, POLICY, now=T0 + 30)
    assert not (await breaker_allows(redis, SERVER, POLICY, now=T0 + 40)).allowed
    assert (await breaker_allows(redis, SERVER, POLICY, now=T0 + 60)).allowed


async def test_every_worker_sees_the_same_circuit(redis: Redis) -> None:
    other_worker = Redis.from_url(os.environ["REDIS_URL"], decode_responses=True)
    try:
        await _open(redis)
        status = await breaker_status(other_worker, SERVER, POLICY, now=T0 + 1)
        assert (status.state, status.allowed) == (CircuitState.OPEN, False)
    finally:
        await other_worker.aclose()


async def test_each_change_of_state_is_recorded_as_a_decision(redis: Redis) -> None:
    await _open(redis)
    await breaker_allows(redis, SERVER, POLICY, now=T0 + 30)
    for _ in range(2):
        await record_success(redis, SERVER, POLICY, now=T0 + 31)

    decisions = await recent_decisions(redis, SERVER)

    assert [(d.kind, d.old, d.new, d.at) for d in decisions] == [
        ("breaker", "half_open", "closed", T0 + 31),
        ("breaker", "open", "half_open", T0 + 30),
        ("breaker", "closed", "open", T0),
    ]
    assert decisions[-1].reason == "3 consecutive failures, last: connection refused"
