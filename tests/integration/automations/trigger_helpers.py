"""Flows for the trigger tests: active, with one long wait so whoever enters stays where the test can see them."""

from __future__ import annotations

from typing import Any

from app.services.automations import flows, triggers
from app.services.sqlparams import fetch_positional

WAIT_A_DAY = [{"id": "s1", "kind": "wait", "params": {"mode": "duration", "minutes": 1440}, "next": None}]
WAIT_FOR_EVENT = [
    {"id": "w1", "kind": "wait", "params": {"mode": "event", "event": "viewed_offer", "timeout_minutes": 1440},
     "next": None}]


async def active_flow(workspace_id: int, trigger: dict[str, Any], steps: list[dict] | None = None,
                      settings: dict[str, Any] | None = None) -> dict:
    flow = await flows.create_flow(workspace_id, {"name": f"On {trigger['kind']}", "trigger": trigger,
                                                  "settings": settings or {}, "steps": steps or WAIT_A_DAY})
    activated = await flows.activate(workspace_id, flow["id"])
    # Another test's flow in this process may have left the workspace's (empty) listening cached.
    triggers.forget_listening(workspace_id)
    return activated


async def enrolled(flow: dict) -> list[int]:
    """The subscribers enrolled in the flow, one entry per enrolment, in id order."""
    rows = await fetch_positional("SELECT subscriber_id FROM flow_enrolments WHERE flow_id = $1 ORDER BY id",
                                  [flow["id"]])
    return [row["subscriber_id"] for row in rows]


async def waiting_for(flow: dict) -> dict[int, str | None]:
    """Each live enrolment's subscriber and the event it still waits for (None: woken, or not waiting)."""
    rows = await fetch_positional("SELECT subscriber_id, waiting_event FROM flow_steps_due WHERE flow_id = $1",
                                  [flow["id"]])
    return {row["subscriber_id"]: row["waiting_event"] for row in rows}
