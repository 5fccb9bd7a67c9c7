"""Token buckets against the real Redis: all-or-none across buckets, waits instead of polling,
and no over-granting when several processes take tokens at once."""

from __future__ import annotations

import asyncio
import multiprocessing
import os

import pytest
from redis.asyncio import Redis

from app.services.throttling import HOUR, MINUTE, MONTH, Bucket, acquire, acquire_many, level_at, tokens_left

T0 = 1_700_000_000.0


async def test_tokens_come_from_every_bucket_or_from_none(redis: Redis) -> None:
    wide = Bucket("t:wide", limit=100, period=HOUR)
    narrow = Bucket("t:narrow", limit=2, period=HOUR)
    assert (await acquire(redis, [wide, narrow], now=T0)).granted
    assert (await acquire(redis, [wide, narrow], now=T0)).granted

    refused = await acquire(redis, [wide, narrow], now=T0)

    assert not refused.granted
    assert refused.limited_by == "t:narrow"
    assert refused.remaining == {"t:wide": 98, "t:narrow": 0}
    assert await tokens_left(redis, [wide, narrow], now=T0) == {"t:wide": 98, "t:narrow": 0}


async def test_a_refusal_says_how_long_until_the_tokens_are_back(redis: Redis) -> None:
    bucket = Bucket("t:minute", limit=60, period=MINUTE)
    assert (await acquire(redis, [bucket], tokens=60, now=T0)).granted

    refused = await acquire(redis, [bucket], tokens=3, now=T0)
    assert (refused.granted, refused.retry_after) == (False, 3.0)

    assert not (await acquire(redis, [bucket], tokens=3, now=T0 + 2.9)).granted
    assert (await acquire(redis, [bucket], tokens=3, now=T0 + refused.retry_after)).granted


async def test_the_longest_wait_among_the_buckets_is_reported(redis: Redis) -> None:
    fast = Bucket("t:fast", limit=10, period=10)
    slow = Bucket("t:slow", limit=1, period=100)
    assert (await acquire(redis, [fast, slow], now=T0)).granted

    refused = await acquire(redis, [fast, slow], now=T0)

    assert (refused.limited_by, refused.retry_after) == ("t:slow", 100.0)


async def test_the_script_refills_as_the_python_mirror_does(redis: Redis) -> None:
    bucket = Bucket("t:mirror", limit=3600, period=HOUR, burst=50)
    await acquire(redis, [bucket], tokens=50, now=T0)
    await acquire(redis, [bucket], tokens=5, now=T0 + 12.5)

    expected = level_at(bucket, level_at(bucket, 0.0, 0, 12_500) - 5, 12_500, 40_000)
    assert expected == pytest.approx(35)
    assert await tokens_left(redis, [bucket], now=T0 + 40) == {"t:mirror": 35}


async def test_a_bucket_never_used_is_full(redis: Redis) -> None:
    assert await tokens_left(redis, [Bucket("t:unused", limit=7, period=HOUR)]) == {"t:unused": 7}


async def test_the_redis_clock_is_used_when_no_time_is_given(redis: Redis) -> None:
    bucket = Bucket("t:server-clock", limit=10, period=MONTH)
    first = await acquire(redis, [bucket])
    second = await acquire(redis, [bucket])
    assert (first.remaining, second.remaining) == ({"t:server-clock": 9}, {"t:server-clock": 8})
    assert await tokens_left(redis, [bucket]) == {"t:server-clock": 8}


async def test_an_idle_bucket_expires_once_it_would_be_full_again(redis: Redis) -> None:
    bucket = Bucket("t:expiring", limit=60, period=MINUTE)
    await acquire(redis, [bucket], tokens=30)
    # 30 tokens at one per second, plus the script's one-second margin.
    assert 0 < await redis.pttl("t:expiring") <= 31_000


async def test_a_batch_is_decided_in_order_each_acquisition_all_or_none(redis: Redis) -> None:
    server = Bucket("t:server", limit=4, period=HOUR)
    gmail = Bucket("t:gmail", limit=2, period=HOUR)
    to_gmail, to_others = ([server, gmail], 1), ([server], 1)

    grants = await acquire_many(redis, [to_gmail, to_gmail, to_gmail, to_others, to_others, to_others], now=T0)

    assert [g.granted for g in grants] == [True, True, False, True, True, False]
    assert grants[2].limited_by == "t:gmail"
    assert grants[2].remaining == {"t:server": 0, "t:gmail": 0}  # as left once the whole batch was decided
    assert grants[5].limited_by == "t:server"
    assert grants[5].retry_after == pytest.approx(900, abs=0.01)
    assert await tokens_left(redis, [server, gmail], now=T0) == {"t:server": 0, "t:gmail": 0}


async def test_a_bucket_must_mean_the_same_limits_throughout_a_batch(redis: Redis) -> None:
    with pytest.raises(ValueError, match="different limits"):
        await acquire_many(redis, [([Bucket("t:x", 5, HOUR)], 1), ([Bucket("t:x", 6, HOUR)], 1)])
    with pytest.raises(ValueError, match="listed twice"):
        await acquire(redis, [Bucket("t:x", 5, HOUR), Bucket("t:x", 5, HOUR)])


async def test_more_tokens_than_a_bucket_can_hold_is_an_error(redis: Redis) -> None:
    with pytest.raises(ValueError, match="can never fit"):
        await acquire(redis, [Bucket("t:small", limit=5, period=MINUTE)], tokens=6)


# Month-long periods: over the seconds this test runs, refill adds far less than one token.
SHARED = Bucket("t:mp:server-month", limit=1000, period=MONTH)
NARROW = Bucket("t:mp:gmail-month", limit=700, period=MONTH)


def _take_tokens(worker: int) -> tuple[int, int]:
    """One process: 700 acquisitions, half needing both buckets, one by one or in batches of ten
    (every other worker); returns how many of each kind were granted."""

    async def run() -> tuple[int, int]:
        client = Redis.from_url(os.environ["REDIS_URL"])
        both = shared_only = 0
        try:
            for _ in range(70):
                batch = [([SHARED, NARROW], 1), ([SHARED], 1)] * 5
                if worker % 2:
                    grants = await acquire_many(client, batch)
                else:
                    grants = [await acquire(client, buckets, tokens) for buckets, tokens in batch]
                both += sum(g.granted for g in grants[0::2])
                shared_only += sum(g.granted for g in grants[1::2])
        finally:
            await client.aclose()
        return both, shared_only

    return asyncio.run(run())


def _left() -> dict[str, int]:
    async def run() -> dict[str, int]:
        client = Redis.from_url(os.environ["REDIS_URL"])
        try:
            return await tokens_left(client, [SHARED, NARROW])
        finally:
            await client.aclose()

    return asyncio.run(run())


def test_concurrent_processes_never_take_more_than_the_limit() -> None:
    with multiprocessing.get_context("fork").Pool(4) as pool:
        grants = pool.map(_take_tokens, range(4))
        left = pool.apply(_left)

    both = sum(b for b, _ in grants)
    shared_only = sum(s for _, s in grants)
    assert both + shared_only == 1000
    assert both <= 700
    # All or none: every grant that needed both buckets took from both, no refusal took from either.
    assert left == {SHARED.key: 0, NARROW.key: 700 - both}


async def test_the_apps_decoding_client_works_the_same() -> None:
    decoded = Redis.from_url(os.environ["REDIS_URL"], decode_responses=True)
    bucket = Bucket("t:decoded", limit=10, period=HOUR)
    try:
        assert (await acquire(decoded, [bucket], tokens=4, now=T0)).remaining == {"t:decoded": 6}
        assert await tokens_left(decoded, [bucket], now=T0) == {"t:decoded": 6}
    finally:
        await decoded.aclose()
