"""Warm-up plans: a named schedule of daily caps for a new server or IP, advanced once a day.

Pure maths over immutable state; the scheduler stores the state with the server
and calls `advance_day` after midnight in the workspace's timezone. A day whose
predecessor had poor health (bounces, complaints, deferrals) is repeated, not
skipped, so reputation is built at the pace the receivers accept.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class WarmupPlan:
    name: str
    daily_caps: tuple[int, ...]

    def cap_on(self, day: int) -> int | None:
        """The cap on schedule day `day` (1-based); None once the schedule is over."""
        return self.daily_caps[day - 1] if day <= len(self.daily_caps) else None


def doubling_plan(name: str, start: int, target: int) -> WarmupPlan:
    caps = [start]
    while caps[-1] * 2 < target:
        caps.append(caps[-1] * 2)
    return WarmupPlan(name, (*caps, target))


WARMUP_PLANS: dict[str, WarmupPlan] = {
    # A slow first week, then doubling: the usual shape ESP guides recommend for a fresh IP.
    "standard": WarmupPlan("standard", (50, 100, 500, 1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 64_000,
                                        100_000)),
    "conservative": doubling_plan("conservative", 50, 50_000),
    "aggressive": doubling_plan("aggressive", 500, 250_000),
}


@dataclass(frozen=True)
class WarmupState:
    plan: str
    day: int = 1
    last_decided_on: date | None = None
    held_days: int = 0
    override_cap: int | None = None


@dataclass(frozen=True)
class WarmupStep:
    state: WarmupState
    advanced: bool
    reason: str


def daily_cap(state: WarmupState, plan: WarmupPlan) -> int | None:
    """Today's cap: the manual override when set, else the schedule's; None means no warm-up cap."""
    return state.override_cap if state.override_cap is not None else plan.cap_on(state.day)


def local_today(now: datetime, timezone: str) -> date:
    return now.astimezone(ZoneInfo(timezone)).date()


def _cap_text(cap: int | None) -> str:
    return "no cap" if cap is None else f"cap {cap}"


def advance_day(state: WarmupState, yesterday_health_ok: bool, *, plan: WarmupPlan, today: date) -> WarmupStep:
    """Move to the next schedule day when yesterday's health held, hold the day otherwise; once per date."""
    if state.last_decided_on is not None and today <= state.last_decided_on:
        return WarmupStep(state, False, f"already decided on {state.last_decided_on.isoformat()}")
    if plan.cap_on(state.day) is None:
        return WarmupStep(replace(state, last_decided_on=today), False, f"plan {plan.name} complete")
    if not yesterday_health_ok:
        held = replace(state, last_decided_on=today, held_days=state.held_days + 1)
        return WarmupStep(held, False, f"held on day {state.day} ({_cap_text(plan.cap_on(state.day))}): "
                                       "yesterday's health failed")
    moved = replace(state, day=state.day + 1, last_decided_on=today, held_days=0)
    reason = (f"day {state.day} → {moved.day}: {_cap_text(plan.cap_on(state.day))} → "
              f"{_cap_text(plan.cap_on(moved.day))}")
    if state.override_cap is not None:
        reason += f" (manual override {state.override_cap} still applies)"
    return WarmupStep(moved, True, reason)


def override_cap(state: WarmupState, cap: int | None) -> WarmupState:
    """Set a manual daily cap over the schedule, or clear it with None."""
    if cap is not None and cap < 0:
        raise ValueError("a daily cap cannot be negative")
    return replace(state, override_cap=cap)


def jump_to_day(state: WarmupState, day: int) -> WarmupState:
    """Manual override of the schedule position, e.g. for an IP that was warmed elsewhere."""
    if day < 1:
        raise ValueError("warm-up days start at 1")
    return replace(state, day=day, held_days=0)
