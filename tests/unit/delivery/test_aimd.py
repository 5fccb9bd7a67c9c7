"""AIMD steps: multiplicative cuts on bad windows, additive recovery to the ceiling, holds otherwise."""

from __future__ import annotations

from app.services.throttling import AimdPolicy, Outcomes, aimd_step

POLICY = AimdPolicy(ceiling=500, floor=20, threshold=0.05, decrease=0.5, increase_fraction=0.1, min_samples=50)
BAD = Outcomes(accepted=90, deferred=8, bounced=2)
GOOD = Outcomes(accepted=100, deferred=1)


def test_failure_rate_counts_deferrals_and_bounces() -> None:
    assert BAD.total == 100
    assert BAD.failure_rate == 0.1
    assert Outcomes().failure_rate == 0.0


def test_a_bad_window_cuts_the_rate_multiplicatively_with_its_reason() -> None:
    step = aimd_step(500, BAD, POLICY)
    assert step.rate == 250
    assert step.reason == "8 deferred + 2 bounced of 100 (10.0%) in 10 min, above 5.0%: cut to 250/h"


def test_cuts_stop_at_the_floor() -> None:
    assert aimd_step(30, BAD, POLICY).rate == 20
    held = aimd_step(20, BAD, POLICY)
    assert held.rate == 20
    assert "already at the floor" in held.reason


def test_too_few_samples_never_cut() -> None:
    step = aimd_step(500, Outcomes(accepted=5, deferred=5), POLICY)
    assert step.rate == 500
    assert "hold" in step.reason


def test_a_good_window_recovers_additively_up_to_the_ceiling() -> None:
    assert aimd_step(250, GOOD, POLICY).rate == 300
    assert aimd_step(480, GOOD, POLICY).rate == 500
    assert aimd_step(500, GOOD, POLICY).rate == 500


def test_no_traffic_is_no_evidence_for_recovery() -> None:
    assert aimd_step(250, Outcomes(), POLICY).rate == 250


def test_a_run_of_windows_cuts_fast_and_recovers_slowly() -> None:
    rate = POLICY.ceiling
    history = []
    for outcomes in [BAD, BAD, GOOD, GOOD, GOOD, BAD, GOOD]:
        rate = aimd_step(rate, outcomes, POLICY).rate
        history.append(rate)
    assert history == [250, 125, 175, 225, 275, 137.5, 187.5]
