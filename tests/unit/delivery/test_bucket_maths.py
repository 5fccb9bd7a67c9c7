"""The refill maths the Lua script runs, mirrored in Python, and the standard bucket shapes."""

from __future__ import annotations

import pytest

from app.services.throttling import HOUR, MINUTE, MONTH, Bucket, level_at, server_buckets, workspace_bucket


def test_capacity_defaults_to_the_limit_and_burst_overrides_it() -> None:
    assert Bucket("b", limit=3600, period=HOUR).capacity == 3600
    assert Bucket("b", limit=3600, period=HOUR, burst=60).capacity == 60


def test_refill_rate_is_limit_spread_over_the_period_in_milliseconds() -> None:
    assert Bucket("b", limit=3600, period=HOUR).refill_per_ms == pytest.approx(0.001)


def test_level_refills_with_elapsed_time() -> None:
    bucket = Bucket("b", limit=60, period=MINUTE)
    assert level_at(bucket, 0.0, stored_ms=1_000, now_ms=11_000) == pytest.approx(10)


def test_level_never_exceeds_capacity() -> None:
    bucket = Bucket("b", limit=60, period=MINUTE)
    assert level_at(bucket, 55.0, stored_ms=0, now_ms=3_600_000) == 60


def test_a_clock_that_went_backwards_adds_nothing() -> None:
    bucket = Bucket("b", limit=60, period=MINUTE)
    assert level_at(bucket, 4.0, stored_ms=10_000, now_ms=9_000) == 4.0


@pytest.mark.parametrize(("limit", "period"), [(0, HOUR), (10, 0), (-1, HOUR)])
def test_a_bucket_needs_a_positive_limit_and_period(limit: float, period: float) -> None:
    with pytest.raises(ValueError, match="must be positive"):
        Bucket("b", limit, period)


def test_server_buckets_include_only_configured_quotas() -> None:
    buckets = server_buckets(7, per_hour=1000, per_month=100_000)
    assert [(b.key, b.limit, b.period) for b in buckets] == [
        ("throttle:server:7:hour", 1000, HOUR),
        ("throttle:server:7:month", 100_000, MONTH),
    ]


def test_workspace_bucket_is_per_minute() -> None:
    bucket = workspace_bucket(3, per_minute=600)
    assert (bucket.key, bucket.capacity, bucket.refill_per_ms) == ("throttle:workspace:3:minute", 600, 0.01)
