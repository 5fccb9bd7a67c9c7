"""Warm-up schedules: daily caps, advancing on healthy days, holding on unhealthy ones, overrides."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from app.services.throttling import (
    WARMUP_PLANS,
    WarmupPlan,
    WarmupState,
    advance_day,
    daily_cap,
    doubling_plan,
    jump_to_day,
    local_today,
    override_cap,
)

PLAN = WarmupPlan("short", (50, 100, 500))
MONDAY = date(2025, 3, 3)
TUESDAY = date(2025, 3, 4)


def test_doubling_plan_doubles_until_the_target() -> None:
    assert doubling_plan("p", 50, 1000).daily_caps == (50, 100, 200, 400, 800, 1000)


def test_the_standard_plan_starts_small_and_ends_high() -> None:
    caps = WARMUP_PLANS["standard"].daily_caps
    assert caps[:3] == (50, 100, 500)
    assert list(caps) == sorted(caps)


def test_cap_follows_the_schedule_and_ends_with_it() -> None:
    assert PLAN.cap_on(1) == 50
    assert PLAN.cap_on(3) == 500
    assert PLAN.cap_on(4) is None


def test_a_healthy_day_advances_the_schedule() -> None:
    step = advance_day(WarmupState("short"), True, plan=PLAN, today=MONDAY)
    assert step.advanced
    assert step.state.day == 2
    assert daily_cap(step.state, PLAN) == 100
    assert step.reason == "day 1 → 2: cap 50 → cap 100"


def test_an_unhealthy_day_holds_the_schedule() -> None:
    step = advance_day(WarmupState("short", day=2), False, plan=PLAN, today=MONDAY)
    assert not step.advanced
    assert step.state.day == 2
    assert step.state.held_days == 1
    assert step.reason == "held on day 2 (cap 100): yesterday's health failed"


def test_the_day_is_decided_once_per_date() -> None:
    first = advance_day(WarmupState("short"), True, plan=PLAN, today=MONDAY)
    again = advance_day(first.state, True, plan=PLAN, today=MONDAY)
    assert not again.advanced
    assert again.state.day == 2
    assert advance_day(again.state, True, plan=PLAN, today=TUESDAY).state.day == 3


def test_a_finished_plan_leaves_no_cap() -> None:
    state = WarmupState("short", day=3)
    state = advance_day(state, True, plan=PLAN, today=MONDAY).state
    assert daily_cap(state, PLAN) is None
    step = advance_day(state, True, plan=PLAN, today=TUESDAY)
    assert (step.advanced, step.reason) == (False, "plan short complete")


def test_a_manual_cap_overrides_the_schedule_until_cleared() -> None:
    state = override_cap(WarmupState("short"), 10)
    assert daily_cap(state, PLAN) == 10
    step = advance_day(state, True, plan=PLAN, today=MONDAY)
    assert daily_cap(step.state, PLAN) == 10
    assert "manual override 10 still applies" in step.reason
    assert daily_cap(override_cap(step.state, None), PLAN) == 100


def test_jump_to_day_moves_the_schedule_position() -> None:
    held = WarmupState("short", day=1, held_days=3)
    assert jump_to_day(held, 3) == WarmupState("short", day=3, held_days=0)
    with pytest.raises(ValueError):
        jump_to_day(held, 0)


def test_the_scheduler_date_is_the_workspace_local_date() -> None:
    late_evening_utc = datetime(2025, 3, 3, 23, 30, tzinfo=UTC)
    assert local_today(late_evening_utc, "UTC") == MONDAY
    assert local_today(late_evening_utc, "Europe/Berlin") == TUESDAY
    assert local_today(late_evening_utc, "America/New_York") == MONDAY
