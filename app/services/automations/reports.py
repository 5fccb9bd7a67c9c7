"""What the automation pages show: each flow with its counters, each step's figures (the engine's counters,
and for a send step its campaign's opens, clicks, conversions and revenue), who waits at a step, and a
person's path through the flows they entered. Counters only: no page counts rows."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from redis.asyncio import Redis

from app.db.automations import Flow, FlowEnrolment
from app.services.tenancy import checked_workspace_id
from app.services.tracking.figures import campaign_figures

PAGE_SIZE = 50
STEP_PAGE = 50
STEP_FIGURES = ("entered", "waiting", "done", "yes", "no", "sent", "skipped", "event", "timeout", "exited")
ENGAGEMENT = ("unique_opens", "unique_clicks", "conversions", "revenue")
OUTCOME_WORDS = {"done": "done", "yes": "went the Yes way", "no": "went the No way", "sent": "sent an email",
                 "skipped": "skipped", "event": "the awaited event happened", "timeout": "stopped waiting (timeout)",
                 "exited": "left the flow"}


async def flows_page(workspace_id: int, before_id: int | None = None, limit: int = PAGE_SIZE) -> list[dict]:
    """The workspace's flows, newest first, each with its live trigger (the published version's; the draft's
    until one is), whether the draft differs from it, and how many were enrolled, are active, completed,
    exited."""
    return await Flow.raw(
        "SELECT f.id, f.name, f.status, coalesce(v.trigger, f.trigger) AS trigger, f.version, f.created_at, "
        "f.updated_at, (v.id IS NOT NULL AND (v.steps, v.trigger, v.settings) IS DISTINCT FROM "
        "(f.draft_steps, f.trigger, f.settings)) AS draft_changed, "
        "coalesce(c.enrolled, 0) AS enrolled, coalesce(c.active, 0) AS active, "
        "coalesce(c.completed, 0) AS completed, coalesce(c.exited, 0) AS exited, "
        "coalesce(c.converted, 0) AS converted "
        "FROM flows f LEFT JOIN flow_counters c ON c.flow_id = f.id "
        "LEFT JOIN flow_versions v ON v.workspace_id = f.workspace_id AND v.flow_id = f.id AND v.version = f.version "
        "WHERE f.workspace_id = {} AND f.status <> 'archived' AND ({} :: integer IS NULL OR f.id < {}) "
        "ORDER BY f.id DESC LIMIT {}",
        checked_workspace_id(workspace_id), before_id, before_id, limit)


async def flow_counters(workspace_id: int, flow_id: int) -> dict[str, int]:
    rows = await Flow.raw(
        "SELECT enrolled, active, completed, exited, converted FROM flow_counters "
        "WHERE workspace_id = {} AND flow_id = {}", checked_workspace_id(workspace_id), flow_id)
    return dict(rows[0]) if rows else dict.fromkeys(("enrolled", "active", "completed", "exited", "converted"), 0)


async def step_figures(workspace_id: int, flow_id: int) -> dict[str, dict[str, int]]:
    """Each step's counters over every version of the flow (a step keeps its id across versions)."""
    sums = ", ".join(f"sum({name})::bigint AS {name}" for name in STEP_FIGURES)
    rows = await Flow.raw(
        f"SELECT step_id, {sums} FROM flow_step_stats WHERE workspace_id = {{}} AND flow_id = {{}} "
        "GROUP BY step_id", checked_workspace_id(workspace_id), flow_id)
    return {row["step_id"]: {name: int(row[name] or 0) for name in STEP_FIGURES} for row in rows}


# What people did at a step of each kind, as (counter, words): together with those still waiting, those who
# left the flow there and those moved to a newer version, they add up to those who entered it.
OUTCOMES_OF_KIND = {
    "condition": (("yes", "yes"), ("no", "no")), "send": (("sent", "sent"), ("skipped", "skipped")),
    "goto": (("yes", "went back"), ("no", "carried on")), "end": (("done", "ended here"),),
    "event_wait": (("event", "on the event"), ("timeout", "at the timeout")), "wait": (("done", "waited"),),
}


def step_outcomes(step: Mapping[str, Any], figures: Mapping[str, int]) -> list[tuple[int, str]]:
    """What the people who ran the step did, in words its kind uses ("3 yes", "4 sent", "2 ended here"), with
    those moved to a newer version when some were."""
    kind = "event_wait" if step["kind"] == "wait" and step["params"].get("mode") == "event" else step["kind"]
    counted = [(int(figures.get(name, 0)), words)
               for name, words in OUTCOMES_OF_KIND.get(kind, (("done", "went on"),))]
    moved = int(figures.get("entered", 0)) - int(figures.get("waiting", 0)) - int(figures.get("exited", 0)) \
        - sum(count for count, _ in counted)
    return counted + ([(moved, "moved to a newer version")] if moved > 0 else [])


async def send_step_campaigns(workspace_id: int, flow_id: int) -> dict[str, list[int]]:
    """The campaigns each send step of the flow sent through (one per published version), by step id."""
    rows = await Flow.raw(
        "SELECT step_id, campaign_id FROM flow_step_campaigns WHERE workspace_id = {} AND flow_id = {} "
        "ORDER BY version", checked_workspace_id(workspace_id), flow_id)
    found: dict[str, list[int]] = {}
    for row in rows:
        found.setdefault(row["step_id"], []).append(row["campaign_id"])
    return found


async def step_engagement(redis: Redis, workspace_id: int, flow_id: int) -> dict[str, dict[str, Any]]:
    """Each send step's unique opens and clicks, conversions and revenue: its campaigns' counters, summed over
    the flow's versions."""
    found: dict[str, dict[str, Any]] = {}
    for step_id, campaign_ids in (await send_step_campaigns(workspace_id, flow_id)).items():
        totals: dict[str, Any] = dict.fromkeys(ENGAGEMENT, 0)
        for campaign_id in campaign_ids:
            figures = await campaign_figures(redis, workspace_id, campaign_id)
            for name in ENGAGEMENT:
                totals[name] += figures.get(name, 0)
        found[step_id] = totals
    return found


async def flows_of_campaigns(workspace_id: int, campaign_ids: list[int]) -> dict[int, int]:
    """The flow each of these campaigns sends a step of, by campaign id (other campaigns are left out)."""
    if not campaign_ids:
        return {}
    rows = await Flow.raw(
        "SELECT campaign_id, flow_id FROM flow_step_campaigns WHERE workspace_id = {} AND campaign_id = ANY({})",
        checked_workspace_id(workspace_id), campaign_ids)
    return {row["campaign_id"]: row["flow_id"] for row in rows}


@dataclass(frozen=True)
class Waiting:
    enrolment_id: int
    subscriber_id: int
    email: str
    version: int
    due_at: datetime
    waiting_event: str | None


async def at_step(workspace_id: int, flow_id: int, step_id: str, after_id: int | None = None,
                  limit: int = STEP_PAGE) -> list[Waiting]:
    """Who is at the step now (waiting, or due to run it), by enrolment, a page after `after_id`."""
    rows = await Flow.raw(
        "SELECT d.enrolment_id, d.subscriber_id, s.email, d.version, d.due_at, d.waiting_event "
        "FROM flow_steps_due d JOIN subscribers s ON s.id = d.subscriber_id "
        "WHERE d.workspace_id = {} AND d.flow_id = {} AND d.step_id = {} AND d.enrolment_id > {} "
        "ORDER BY d.enrolment_id LIMIT {}",
        checked_workspace_id(workspace_id), flow_id, step_id, after_id or 0, limit)
    return [Waiting(**row) for row in rows]


@dataclass(frozen=True)
class PathStep:
    step_id: str
    kind: str
    outcome: str
    words: str
    ran_at: datetime
    detail: str


@dataclass(frozen=True)
class FlowPath:
    enrolment_id: int
    flow_id: int
    flow_name: str
    version: int
    status: str
    exit_reason: str
    entered_at: datetime
    finished_at: datetime | None
    waiting_at: str | None
    due_at: datetime | None
    steps: list[PathStep]


def _kinds(steps: Any) -> dict[str, str]:
    return {step["id"]: step["kind"] for step in steps or ()} if isinstance(steps, list) else {}


async def person_paths(workspace_id: int, email: str, limit: int = 20) -> list[FlowPath]:
    """The latest enrolments of the person at `email` (any of their subscriptions), newest first, each with the
    steps it ran."""
    workspace_id = checked_workspace_id(workspace_id)
    enrolments = await FlowEnrolment.raw(
        "SELECT e.id, e.flow_id, f.name, e.version, e.status, e.exit_reason, e.entered_at, e.finished_at, "
        "d.step_id AS waiting_at, d.due_at, v.steps "
        "FROM flow_enrolments e JOIN flows f ON f.id = e.flow_id "
        "LEFT JOIN flow_steps_due d ON d.enrolment_id = e.id "
        "LEFT JOIN flow_versions v ON v.flow_id = e.flow_id AND v.version = e.version "
        "WHERE e.workspace_id = {} AND e.subscriber_id IN (SELECT id FROM subscribers "
        "WHERE workspace_id = {} AND email = {}) ORDER BY e.id DESC LIMIT {}",
        workspace_id, workspace_id, email, limit)
    if not enrolments:
        return []
    runs = await FlowEnrolment.raw(
        "SELECT enrolment_id, step_id, outcome, detail, ran_at FROM flow_step_runs "
        "WHERE workspace_id = {} AND enrolment_id = ANY({}) ORDER BY ran_at, id",
        workspace_id, [row["id"] for row in enrolments])
    return [_path(row, [run for run in runs if run["enrolment_id"] == row["id"]]) for row in enrolments]


def _path(row: Mapping[str, Any], runs: list[dict]) -> FlowPath:
    steps = row["steps"]
    # asyncpg hands jsonb over as text.
    if isinstance(steps, str):
        steps = json.loads(steps)
    kinds = _kinds(steps)
    return FlowPath(
        enrolment_id=row["id"], flow_id=row["flow_id"], flow_name=row["name"], version=row["version"],
        status=row["status"], exit_reason=row["exit_reason"], entered_at=row["entered_at"],
        finished_at=row["finished_at"], waiting_at=row["waiting_at"], due_at=row["due_at"],
        steps=[PathStep(run["step_id"], kinds.get(run["step_id"], ""), run["outcome"],
                        OUTCOME_WORDS.get(run["outcome"], run["outcome"]), run["ran_at"], run["detail"])
               for run in runs])
