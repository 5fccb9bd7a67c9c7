"""Building flows for the engine's tests and reading what the engine wrote."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from app.services.automations import engine, flows
from app.services.sqlparams import fetch_positional

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def step(step_id: str, kind: str, params: dict | None = None, next_id: str | None = None, **links: Any) -> dict:
    made = {"id": step_id, "kind": kind, "params": params or {}}
    if kind == "condition":
        made.update(yes=links.get("yes"), no=links.get("no"))
    else:
        made["next"] = next_id
    return made


async def active_flow(workspace_id: int, steps: list[dict], settings: dict | None = None) -> dict:
    flow = await flows.create_flow(workspace_id, {"name": "Flow", "steps": steps, "settings": settings or {}})
    return await flows.activate(workspace_id, flow["id"])


async def runs(flow_id: int) -> list[tuple[int, str, int, str]]:
    """(subscriber, step, visit, outcome) of every run, in order."""
    rows = await fetch_positional(
        "SELECT e.subscriber_id, r.step_id, r.visit, r.outcome FROM flow_step_runs r "
        "JOIN flow_enrolments e ON e.id = r.enrolment_id WHERE r.flow_id = $1 ORDER BY r.id", [flow_id])
    return [(row["subscriber_id"], row["step_id"], row["visit"], row["outcome"]) for row in rows]


async def enrolments(flow_id: int) -> dict[int, dict[str, Any]]:
    rows = await fetch_positional("SELECT * FROM flow_enrolments WHERE flow_id = $1 ORDER BY id", [flow_id])
    return {row["subscriber_id"]: row for row in rows}


async def due(flow_id: int) -> dict[int, dict[str, Any]]:
    rows = await fetch_positional("SELECT * FROM flow_steps_due WHERE flow_id = $1", [flow_id])
    return {row["subscriber_id"]: row for row in rows}


async def stats(flow_id: int) -> dict[str, dict[str, Any]]:
    rows = await fetch_positional("SELECT * FROM flow_step_stats WHERE flow_id = $1", [flow_id])
    return {row["step_id"]: row for row in rows}


async def counters(flow_id: int) -> dict[str, Any]:
    rows = await fetch_positional("SELECT * FROM flow_counters WHERE flow_id = $1", [flow_id])
    return rows[0]


async def tags_of(subscriber_id: int) -> set[str]:
    rows = await fetch_positional(
        "SELECT t.name FROM subscriber_tags st JOIN tags t ON t.id = st.tag_id WHERE st.subscriber_id = $1",
        [subscriber_id])
    return {row["name"] for row in rows}


async def advance(now: datetime) -> int:
    return await engine.advance_all(now)


async def give_tag(workspace_id: int, subscriber_id: int, name: str) -> None:
    from app.services.subscribers import ensure_tag

    tag_id = await ensure_tag(workspace_id, name)
    await fetch_positional("INSERT INTO subscriber_tags (workspace_id, tag_id, subscriber_id) VALUES ($1, $2, $3)",
                           [workspace_id, tag_id, subscriber_id])


def tag_segment(list_id: int, name: str) -> dict:
    """A segment's values: the people of the list with the tag."""
    return {"name": f"Tagged {name}", "list_ids": [list_id],
            "conditions": {"match": "all", "rules": [{"kind": "tag", "op": "has", "value": name}]}}
