"""Adaptive rates in Redis: outcomes in a shared rolling window drive AIMD decisions, recorded with reasons."""

from __future__ import annotations

import asyncio
import os

from redis.asyncio import Redis

from app.services.throttling import (
    AimdPolicy,
    Outcomes,
    adjust_rate,
    current_rate,
    recent_decisions,
    record_outcomes,
    window_outcomes,
)
from app.services.throttling.decisions import KEEP_DECISIONS, Decision, decisions_key

POLICY = AimdPolicy(ceiling=500, floor=20, min_samples=20, window_seconds=600, cooldown_seconds=600)
T0 = 1_700_000_000.0
SERVER = 4


async def test_outcomes_from_all_workers_add_up_in_the_window(redis: Redis) -> None:
    await record_outcomes(redis, SERVER, "gmail", Outcomes(accepted=10, deferred=1), POLICY, now=T0)
    await record_outcomes(redis, SERVER, "gmail", Outcomes(accepted=5, bounced=2), POLICY, now=T0 + 120)
    await record_outcomes(redis, SERVER, "yahoo", Outcomes(accepted=99), POLICY, now=T0 + 120)

    assert await window_outcomes(redis, SERVER, "gmail", POLICY, now=T0 + 300) == Outcomes(15, 1, 2)
    # Ten minutes on, the first minute has left the window.
    assert await window_outcomes(redis, SERVER, "gmail", POLICY, now=T0 + 600) == Outcomes(5, 0, 2)


async def test_deferrals_above_the_threshold_cut_the_rate_and_record_why(redis: Redis) -> None:
    await record_outcomes(redis, SERVER, "gmail", Outcomes(accepted=30, deferred=10), POLICY, now=T0)

    decision = await adjust_rate(redis, SERVER, "gmail", POLICY, now=T0 + 5)

    assert decision is not None
    assert (decision.old, decision.new, decision.subject) == ("500/h", "250/h", "gmail")
    assert decision.reason == "10 deferred + 0 bounced of 40 (25.0%) in 10 min, above 5.0%: cut to 250/h"
    assert await current_rate(redis, SERVER, "gmail", POLICY) == 250
    assert await recent_decisions(redis, SERVER) == [decision]


async def test_no_second_change_inside_the_cool_down(redis: Redis) -> None:
    await record_outcomes(redis, SERVER, "gmail", Outcomes(accepted=30, deferred=10), POLICY, now=T0)
    await adjust_rate(redis, SERVER, "gmail", POLICY, now=T0 + 5)

    assert await adjust_rate(redis, SERVER, "gmail", POLICY, now=T0 + 60) is None
    assert await current_rate(redis, SERVER, "gmail", POLICY) == 250


async def test_clean_windows_after_the_cool_down_recover_the_rate_step_by_step(redis: Redis) -> None:
    await record_outcomes(redis, SERVER, "gmail", Outcomes(accepted=30, deferred=10), POLICY, now=T0)
    await adjust_rate(redis, SERVER, "gmail", POLICY, now=T0 + 5)

    rates = []
    for window in range(1, 4):
        at = T0 + 5 + window * 600
        await record_outcomes(redis, SERVER, "gmail", Outcomes(accepted=40), POLICY, now=at - 60)
        decision = await adjust_rate(redis, SERVER, "gmail", POLICY, now=at)
        assert decision is not None
        rates.append(decision.new)

    assert rates == ["300/h", "350/h", "400/h"]


async def test_workers_deciding_at_once_apply_only_one_cut(redis: Redis) -> None:
    await record_outcomes(redis, SERVER, "microsoft", Outcomes(accepted=10, bounced=30), POLICY, now=T0)
    workers = [Redis.from_url(os.environ["REDIS_URL"]) for _ in range(4)]
    try:
        decisions = await asyncio.gather(
            *(adjust_rate(worker, SERVER, "microsoft", POLICY, now=T0 + 1) for worker in workers)
        )
    finally:
        await asyncio.gather(*(worker.aclose() for worker in workers))

    assert len([d for d in decisions if d is not None]) == 1
    assert await current_rate(redis, SERVER, "microsoft", POLICY) == 250


async def test_a_stored_rate_stays_inside_an_edited_policy(redis: Redis) -> None:
    await record_outcomes(redis, SERVER, "apple", Outcomes(accepted=10, deferred=30), POLICY, now=T0)
    await adjust_rate(redis, SERVER, "apple", POLICY, now=T0)

    tighter = AimdPolicy(ceiling=100, floor=20)
    assert await current_rate(redis, SERVER, "apple", tighter) == 100


async def test_the_decision_list_is_capped(redis: Redis) -> None:
    await record_outcomes(redis, SERVER, "gmail", Outcomes(accepted=0, deferred=40), POLICY, now=T0)
    overflow = Decision(at=T0, server_id=SERVER, kind="rate", subject="gmail", old="1/h", new="2/h", reason="old")
    await redis.lpush(decisions_key(SERVER), *[overflow.to_json()] * KEEP_DECISIONS)

    await adjust_rate(redis, SERVER, "gmail", POLICY, now=T0)

    assert await redis.llen(decisions_key(SERVER)) == KEEP_DECISIONS
    assert (await recent_decisions(redis, SERVER, limit=1))[0].new == "250/h"


async def test_the_apps_decoding_client_works_the_same() -> None:
    decoded = Redis.from_url(os.environ["REDIS_URL"], decode_responses=True)
    try:
        await record_outcomes(decoded, SERVER, "gmail", Outcomes(accepted=30, deferred=10), POLICY, now=T0)
        assert (await adjust_rate(decoded, SERVER, "gmail", POLICY, now=T0)) is not None
        assert await adjust_rate(decoded, SERVER, "gmail", POLICY, now=T0 + 1) is None
        assert await current_rate(decoded, SERVER, "gmail", POLICY) == 250
        assert [d.new for d in await recent_decisions(decoded, SERVER)] == ["250/h"]
    finally:
        await decoded.aclose()
