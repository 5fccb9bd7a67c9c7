"""Advancing flows: people enrolled, due steps claimed in batches with a lease, run per step set-based.

Exactly once: a step's runs are written with ON CONFLICT DO NOTHING on (enrolment, step, version, visit),
in the same transaction as what the step does and as the move to the next step; only the runs this
transaction wrote are acted on and moved. A second worker holding the same rows (its lease passed while the
first was slow), or a re-run after a crash, writes no run and so does nothing. A worker killed mid-batch
rolled its transaction back; its rows are claimed again once their lease has passed.

Waits are resolved when a step is entered: `due_at` is when the wait ends, so only due rows are ever read.
Time is a parameter (`now`) throughout, so tests and the benchmark move it forward without sleeping.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from app.db.automations import Flow
from app.logs import get_logger
from app.piccolo_conf import DB
from app.services import statements
from app.services.automations import placing, steps
from app.services.automations.definition import links
from app.services.tenancy import checked_workspace_id, owned_by

log = get_logger("ignite.automations")
# How long a worker with nothing due waits before looking again.
POLL_SECONDS = 1.0
# Days after finishing a flow during which its goal event still counts as the flow's conversion.
GOAL_WINDOW_DAYS = 7


@dataclass
class Group:
    """The claimed rows of one step of one flow version."""

    workspace_id: int
    flow_id: int
    version: int
    step_id: str
    rows: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class Version:
    workspace_id: int
    status: str
    steps: dict[str, dict[str, Any]]
    first: str | None
    settings: dict[str, Any]


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


async def versions_of(keys: Iterable[tuple[int, int]]) -> dict[tuple[int, int], Version]:
    """The published versions named, with their flow's status."""
    keys = set(keys)
    if not keys:
        return {}
    rows = await statements.run("automations.flows-of", sorted({k[0] for k in keys}), sorted({k[1] for k in keys}))
    found: dict[tuple[int, int], Version] = {}
    for row in rows:
        if (row["id"], row["version"]) in keys:
            listed = _json(row["steps"])
            found[(row["id"], row["version"])] = Version(
                row["workspace_id"], row["status"], {step["id"]: step for step in listed},
                listed[0]["id"] if listed else None, _json(row["settings"]))
    return found


async def enrol(workspace_id: int, flow_id: int, subscriber_ids: Sequence[int], *, now: datetime,
                trigger_ref: str = "") -> int:
    """Enrol the subscribers (of this workspace) in an active flow at its current version; how many entered.

    "once" keeps out anyone ever enrolled; "every" keeps out anyone inside now or who entered within the
    minimum gap. Publishes nothing: a flow never activated enrols no one."""
    checked_workspace_id(workspace_id)
    if not subscriber_ids:
        return 0
    head = await Flow.select(Flow.status, Flow.version).where(owned_by(Flow, workspace_id), Flow.id == flow_id).first()
    if head is None or head["status"] != "active" or head["version"] == 0:
        return 0
    version_no = head["version"]
    version = (await versions_of([(flow_id, version_no)]))[(flow_id, version_no)]
    settings = version.settings
    async with DB.transaction():
        entered = await statements.run(
            "automations.enrol", workspace_id, flow_id, version_no, list(subscriber_ids), now, trigger_ref[:200],
            settings.get("enrolment", "once") == "once", int(settings.get("min_gap_hours") or 0))
        if not entered:
            return 0
        await statements.run("automations.count-enrolled", workspace_id, flow_id, len(entered))
        moves = [placing.Move(row["id"], row["subscriber_id"], 0) for row in entered]
        await _place_or_finish(workspace_id, flow_id, version_no, version, version.first, moves, now)
    return len(entered)


async def _place_or_finish(workspace_id: int, flow_id: int, version_no: int, version: Version,
                           step_id: str | None, moves: list[placing.Move], now: datetime) -> None:
    """People moved to `step_id` of the version, or done with the flow when there is no next step."""
    if not moves:
        return
    if step_id is None or step_id not in version.steps:
        await statements.run("automations.finish", workspace_id, [m.enrolment_id for m in moves], "completed", "",
                             now)
        return
    await placing.place(workspace_id, flow_id, version_no, version.steps[step_id], moves, now)


async def claim(now: datetime, batch_size: int, lease_seconds: int) -> list[dict[str, Any]]:
    """Due rows leased to this worker: first those whose worker died, then the oldest due."""
    claimed = await statements.run("automations.claim-expired", now, batch_size, lease_seconds)
    if len(claimed) < batch_size:
        claimed += await statements.run("automations.claim-due", now, batch_size - len(claimed), lease_seconds)
    return claimed


def grouped(rows: Iterable[dict[str, Any]]) -> list[Group]:
    groups: dict[tuple[int, int, str], Group] = {}
    for row in rows:
        key = (row["flow_id"], row["version"], row["step_id"])
        if key not in groups:
            groups[key] = Group(row["workspace_id"], *key)
        groups[key].rows.append(row)
    return list(groups.values())


async def advance_due(now: datetime, *, batch_size: int = 5000, lease_seconds: int = 60) -> int:
    """Claim one batch of due steps and run it; how many rows were claimed (0: nothing is due)."""
    claimed = await claim(now, batch_size, lease_seconds)
    if not claimed:
        return 0
    groups = grouped(claimed)
    versions = await versions_of((g.flow_id, g.version) for g in groups)
    held: list[int] = []
    for group in groups:
        version = versions.get((group.flow_id, group.version))
        if version is None or version.status != "active":
            held += [row["enrolment_id"] for row in group.rows]
            continue
        try:
            await run_group(group, version, now)
        except Exception:
            # One step failing (a database error, a send that could not be written) must not stop the others:
            # its rows stay leased and are tried again, exactly once, when the lease has passed.
            log.exception("flow_step_failed", flow_id=group.flow_id, version=group.version, step_id=group.step_id,
                          people=len(group.rows))
    if held:
        await statements.run("automations.hold-rows", held)
    return len(claimed)


async def advance_all(now: datetime, *, batch_size: int = 5000, lease_seconds: int = 60) -> int:
    """Batches run until nothing is due at `now`; how many rows were claimed in all."""
    total = 0
    while ran := await advance_due(now, batch_size=batch_size, lease_seconds=lease_seconds):
        total += ran
    return total


async def advance_for(seconds: float, *, batch_size: int = 5000, lease_seconds: int = 60,
                      poll_seconds: float = POLL_SECONDS, stopping: Callable[[], bool] = lambda: False) -> int:
    """Run due steps for `seconds` (the minute job's run), looking again every `poll_seconds` when nothing is
    due, so a step falling due (a welcome email, a wait an event ended) waits about that long, not a minute;
    sooner once `stopping()` (the worker shuts down)."""
    deadline = time.monotonic() + seconds
    total = 0
    while time.monotonic() < deadline and not stopping():
        ran = await advance_due(datetime.now(UTC), batch_size=batch_size, lease_seconds=lease_seconds)
        total += ran
        if not ran:
            await asyncio.sleep(min(poll_seconds, max(0.0, deadline - time.monotonic())))
    return total


async def run_group(group: Group, version: Version, now: datetime) -> None:
    """One step run for a group: exits first, then the step's kind, then each person moved on."""
    step = version.steps.get(group.step_id)
    if step is None:
        await statements.run("automations.exit-waiting", group.workspace_id,
                             [row["enrolment_id"] for row in group.rows], "step removed", now)
        return
    leaving = await steps.exits(group.workspace_id, version.settings, group.rows)
    staying = [row for row in group.rows if row["enrolment_id"] not in leaving]
    outcomes = {e: ("exited", None, reason) for e, reason in leaving.items()}
    later: dict[int, datetime] = {}
    if staying:
        found = await steps.outcomes(group.workspace_id, group.flow_id, group.version, step, staying, now)
        later = found.later
        outcomes.update(found.ran)
    if later:
        await statements.run("automations.reschedule", group.workspace_id, list(later), list(later.values()),
                             group.step_id)
    if outcomes:
        await _record_and_move(group, version, step, outcomes, now)


async def _record_and_move(group: Group, version: Version, step: dict[str, Any],
                           outcomes: dict[int, tuple[str, int | None, str]], now: datetime) -> None:
    rows = {row["enrolment_id"]: row for row in group.rows}
    order = list(outcomes)
    async with DB.transaction():
        written = await statements.run(
            "automations.record-runs", group.workspace_id, group.flow_id, group.version, group.step_id, now, order,
            [rows[e]["visit"] for e in order], [outcomes[e][0] for e in order],
            [outcomes[e][1] or 0 for e in order], [outcomes[e][2][:1000] for e in order])
        if not written:
            return
        await statements.run("automations.count-runs", group.workspace_id, group.flow_id, group.version,
                             group.step_id, [row["outcome"] for row in written])
        done = [rows[row["enrolment_id"]] for row in written]
        acted = [row for row in done if outcomes[row["enrolment_id"]][0] != "exited"]
        moved = await steps.act(group.workspace_id, group.flow_id, step, acted, now)
        done = [{**row, "subscriber_id": moved[row["enrolment_id"]]} if row["enrolment_id"] in moved else row
                for row in done]
        await _move_on(group, version, step, done, outcomes, now)


async def _move_on(group: Group, version: Version, step: dict[str, Any], done: list[dict[str, Any]],
                   outcomes: dict[int, tuple[str, int | None, str]], now: datetime) -> None:
    exited: dict[str, list[int]] = defaultdict(list)
    ahead: dict[str | None, list[placing.Move]] = defaultdict(list)
    for row in done:
        outcome, _, detail = outcomes[row["enrolment_id"]]
        if outcome == "exited":
            exited[detail].append(row["enrolment_id"])
            continue
        target, visit = next_step(step, outcome, row["visit"])
        ahead[target].append(placing.Move(row["enrolment_id"], row["subscriber_id"], visit))
    for reason, enrolment_ids in exited.items():
        await statements.run("automations.finish", group.workspace_id, enrolment_ids, "exited", reason, now)
    for target, moves in ahead.items():
        await _place_or_finish(group.workspace_id, group.flow_id, group.version, version, target, moves, now)


def next_step(step: dict[str, Any], outcome: str, visit: int) -> tuple[str | None, int]:
    """Where a run continues and with which visit: a goto that jumps starts a new visit of the steps again."""
    if step["kind"] == "condition":
        return step.get("yes" if outcome == "yes" else "no"), visit
    if step["kind"] == "goto" and outcome == "yes":
        return step["params"]["target"], visit + 1
    return links(step)[0], visit


async def event_happened(workspace_id: int, subscriber_ids: Sequence[int], event: str, *, now: datetime) -> int:
    """The event happened to these subscribers: waits for it end now, flows whose goal it is count a
    conversion, and flows that exit on it ("converted") let them go; how many waits were woken."""
    checked_workspace_id(workspace_id)
    if not subscriber_ids:
        return 0
    ids = list(subscriber_ids)
    woken = await statements.run("automations.wake-waiting", workspace_id, ids, event, now)
    await statements.run("automations.reach-goal", workspace_id, ids, event, now, GOAL_WINDOW_DAYS)
    if event == "converted":
        leaving = await statements.run("automations.exits-on-event", workspace_id, ids, event)
        if leaving:
            await statements.run("automations.exit-waiting", workspace_id, [row["id"] for row in leaving],
                                 "converted", now)
    return len(woken)
