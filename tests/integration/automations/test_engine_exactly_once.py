"""Each step runs once per enrolment and visit: under competing workers, after a worker was killed mid-batch,
and when a slow worker comes back after its lease passed and another did its work.

A webhook step makes double work visible: each run queues one delivery, so a step run twice queues two.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from app.services.automations import engine, steps
from app.services.sqlparams import fetch_positional
from tests.factories import make_list, make_subscribers, make_workspace
from tests.integration.automations.engine_helpers import NOW, active_flow, stats, step

PEOPLE = 1200


async def _flow_with_people(n: int = PEOPLE) -> tuple[int, dict]:
    workspace = await make_workspace()
    people = await make_subscribers(await make_list(workspace), n)
    flow = await active_flow(workspace["id"], [
        step("s1", "wait", {"mode": "duration", "minutes": 60}, "s2"),
        step("s2", "webhook", {"url": "https://hooks.example.com/flow"}, "s3"),
        step("s3", "tag", {"add": ["done"]}),
    ])
    await engine.enrol(workspace["id"], flow["id"], [p["id"] for p in people], now=NOW)
    return workspace["id"], flow


async def _deliveries(workspace_id: int) -> int:
    rows = await fetch_positional("SELECT count(*) AS n FROM webhook_deliveries WHERE workspace_id = $1",
                                  [workspace_id])
    return rows[0]["n"]


async def _finished(flow_id: int) -> int:
    rows = await fetch_positional(
        "SELECT count(*) AS n FROM flow_enrolments WHERE flow_id = $1 AND status = 'completed'", [flow_id])
    return rows[0]["n"]


async def test_two_competing_workers_run_each_step_once():
    workspace_id, flow = await _flow_with_people()
    later = NOW + timedelta(hours=1)

    claimed = await asyncio.gather(engine.advance_all(later, batch_size=150),
                                   engine.advance_all(later, batch_size=150))

    assert sum(claimed) == PEOPLE * 3
    assert await _deliveries(workspace_id) == PEOPLE
    assert await _finished(flow["id"]) == PEOPLE
    figures = await stats(flow["id"])
    assert [figures[s]["done"] for s in ("s1", "s2", "s3")] == [PEOPLE] * 3
    assert [figures[s]["waiting"] for s in ("s1", "s2", "s3")] == [0, 0, 0]


async def test_rows_of_a_worker_killed_after_claiming_run_once_its_lease_has_passed():
    workspace_id, flow = await _flow_with_people(300)
    later = NOW + timedelta(hours=1)
    await engine.claim(later, 100, 60)  # a worker that claimed a batch and died

    assert await engine.advance_all(later) == 600  # the 200 others, through the flow's three steps
    assert await _deliveries(workspace_id) == 200
    await engine.advance_all(later + timedelta(seconds=61))

    assert await _deliveries(workspace_id) == 300
    assert await _finished(flow["id"]) == 300


async def test_a_step_failing_mid_batch_leaves_nothing_half_done_and_runs_once_after_its_lease(
        monkeypatch: pytest.MonkeyPatch):
    workspace_id, flow = await _flow_with_people(300)
    later = NOW + timedelta(hours=1)
    await engine.advance_due(later, batch_size=1000)  # everyone is at the webhook step now
    real_act = steps.act

    async def act_then_die(workspace_id, flow_id, step, *args, **kwargs):
        await real_act(workspace_id, flow_id, step, *args, **kwargs)
        raise ConnectionResetError("worker killed")

    monkeypatch.setattr(steps, "act", act_then_die)
    assert await engine.advance_due(later, batch_size=1000) == 300  # the failure is logged, not raised
    assert await _deliveries(workspace_id) == 0

    monkeypatch.setattr(steps, "act", real_act)
    assert await engine.advance_all(later) == 0  # still leased to the dead worker
    await engine.advance_all(later + timedelta(seconds=61))
    assert await _deliveries(workspace_id) == 300
    assert (await stats(flow["id"]))["s2"]["done"] == 300


async def test_a_slow_worker_whose_lease_passed_does_nothing_twice():
    workspace_id, flow = await _flow_with_people(200)
    later = NOW + timedelta(hours=1)
    await engine.advance_due(later, batch_size=1000)  # everyone is at the webhook step now
    slow = await engine.claim(later, 1000, 60)
    assert len(slow) == 200

    await engine.advance_all(later + timedelta(seconds=61))  # another worker takes over the expired lease
    assert await _deliveries(workspace_id) == 200
    groups = engine.grouped(slow)
    versions = await engine.versions_of((g.flow_id, g.version) for g in groups)
    for group in groups:  # the slow worker finally runs what it claimed
        await engine.run_group(group, versions[(group.flow_id, group.version)], later)

    assert await _deliveries(workspace_id) == 200
    assert (await stats(flow["id"]))["s2"]["done"] == 200
    assert await _finished(flow["id"]) == 200
