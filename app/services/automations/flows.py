"""A flow's life: created as a draft, its steps edited, published as versions, paused, resumed, archived.

The editor edits `draft_steps` (with the trigger and settings). Activating publishes them as a new frozen
version when they differ from the current one; people already inside finish on the version they entered,
unless `migrate_waiting` moves them, explicitly, to a step of the newest version.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from app.db.automations import Flow, FlowVersion
from app.piccolo_conf import DB
from app.services import statements
from app.services.automations import definition, placing, triggers
from app.services.forms import FormError
from app.services.tenancy import checked_workspace_id, fetch_owned, owned_by

# A new flow lets go of people who unsubscribe unless told otherwise: mailing them on is rarely what is meant.
DEFAULT_SETTINGS = {"exit_on": ["unsubscribed"]}


async def owned_flow(workspace_id: int, flow_id: object) -> dict[str, Any]:
    """The flow, or LookupError when it is not this workspace's."""
    flow = await fetch_owned(Flow, workspace_id, flow_id)
    if flow is None:
        raise LookupError("No such flow")
    return {**flow, **{key: _json(flow[key]) for key in ("trigger", "settings", "draft_steps")}}


def checked_name(values: Mapping[str, Any]) -> str:
    name = str(values.get("name") or "").strip()
    if not name:
        raise FormError("Give the flow a name.", "name")
    if len(name) > 120:
        raise FormError("A name has at most 120 characters.", "name")
    return name


async def create_flow(workspace_id: int, values: dict[str, Any]) -> dict[str, Any]:
    """A new draft flow from {"name", "trigger"?, "settings"?, "steps"?}, each part checked (the settings
    default to leaving on unsubscribe)."""
    checked_workspace_id(workspace_id)
    name = checked_name(values)
    trigger = await definition.checked_trigger(workspace_id, values.get("trigger") or {"kind": "manual"})
    settings = await definition.checked_settings(workspace_id, values["settings"] if "settings" in values
                                                 else DEFAULT_SETTINGS)
    steps = await definition.checked_steps(workspace_id, values.get("steps") or [])
    now = datetime.now(UTC)
    rows = await Flow.insert(Flow(
        workspace_id=workspace_id, name=name, status="draft", trigger=trigger, settings=settings, version=0,
        draft_steps=steps, created_at=now, updated_at=now,
    )).returning(Flow.id)
    await statements.run("automations.create-counters", workspace_id, rows[0]["id"])
    return await owned_flow(workspace_id, rows[0]["id"])


async def update_flow(workspace_id: int, flow_id: int, values: dict[str, Any]) -> dict[str, Any]:
    """The name, trigger and settings changed (any of them); an active flow's change waits for `publish`."""
    flow = await owned_flow(workspace_id, flow_id)
    changes: dict[Any, Any] = {Flow.updated_at: datetime.now(UTC)}
    if "name" in values:
        changes[Flow.name] = checked_name(values)
    if "trigger" in values:
        changes[Flow.trigger] = await definition.checked_trigger(workspace_id, values["trigger"])
    if "settings" in values:
        changes[Flow.settings] = await definition.checked_settings(workspace_id, values["settings"])
    await Flow.update(changes).where(owned_by(Flow, workspace_id), Flow.id == flow["id"])
    return await owned_flow(workspace_id, flow["id"])


async def save_steps(workspace_id: int, flow_id: int, steps: list[dict[str, Any]]) -> dict[str, Any]:
    """The draft's steps replaced by `steps` once they are valid (FormError keyed by step id otherwise)."""
    flow = await owned_flow(workspace_id, flow_id)
    checked = await definition.checked_steps(workspace_id, steps)
    await Flow.update({Flow.draft_steps: checked, Flow.updated_at: datetime.now(UTC)}).where(
        owned_by(Flow, workspace_id), Flow.id == flow["id"])
    return await owned_flow(workspace_id, flow["id"])


def _published_differs(flow: dict[str, Any], current: dict[str, Any] | None) -> bool:
    if current is None:
        return True
    return (current["steps"], current["trigger"], current["settings"]) != (
        flow["draft_steps"], flow["trigger"], flow["settings"])


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


async def current_version(workspace_id: int, flow_id: int, version: int) -> dict[str, Any] | None:
    row = await FlowVersion.select().where(
        owned_by(FlowVersion, workspace_id), FlowVersion.flow_id == flow_id, FlowVersion.version == version
    ).first()
    if row is not None:
        for key in ("steps", "trigger", "settings"):
            row[key] = _json(row[key])
    return row


async def publish(workspace_id: int, flow_id: int) -> dict[str, Any]:
    """The draft published as the flow's next version (when it differs from the current one)."""
    flow = await owned_flow(workspace_id, flow_id)
    if flow["status"] == "archived":
        raise FormError("An archived flow cannot be published or activated again.", "status")
    steps = flow["draft_steps"]
    if not steps:
        raise FormError("Add at least one step before activating the flow.", "steps")
    await definition.checked_steps(workspace_id, steps)
    async with DB.transaction():
        locked = await statements.run("automations.lock-flow", workspace_id, flow["id"])
        version = locked[0]["version"]
        if _published_differs(flow, await current_version(workspace_id, flow["id"], version)):
            await FlowVersion.insert(FlowVersion(
                workspace_id=workspace_id, flow_id=flow["id"], version=version + 1, steps=steps,
                trigger=flow["trigger"], settings=flow["settings"], created_at=datetime.now(UTC),
            ))
            await Flow.update({Flow.version: version + 1, Flow.updated_at: datetime.now(UTC)}).where(
                owned_by(Flow, workspace_id), Flow.id == flow["id"])
    triggers.forget_listening(workspace_id)
    return await owned_flow(workspace_id, flow["id"])


async def activate(workspace_id: int, flow_id: int) -> dict[str, Any]:
    """The flow published (if its draft changed) and active: it enrols people and its steps advance."""
    flow = await publish(workspace_id, flow_id)
    await _set_status(workspace_id, flow["id"], "active")
    await statements.run("automations.release-held", workspace_id, flow["id"])
    return await owned_flow(workspace_id, flow["id"])


async def pause(workspace_id: int, flow_id: int) -> dict[str, Any]:
    """No one enters a paused flow and the people inside wait where they are until it is resumed."""
    flow = await owned_flow(workspace_id, flow_id)
    if flow["status"] != "active":
        raise FormError("Only an active flow can be paused.", "status")
    await _set_status(workspace_id, flow["id"], "paused")
    await statements.run("automations.hold-flow", workspace_id, flow["id"])
    return await owned_flow(workspace_id, flow["id"])


async def _set_status(workspace_id: int, flow_id: int, status: str) -> None:
    await Flow.update({Flow.status: status, Flow.updated_at: datetime.now(UTC)}).where(
        owned_by(Flow, workspace_id), Flow.id == flow_id)
    triggers.forget_listening(workspace_id)


async def archive(workspace_id: int, flow_id: int, *, now: datetime) -> dict[str, Any]:
    """The flow stops for good: everyone still inside leaves ("archived") and no one enters again."""
    flow = await owned_flow(workspace_id, flow_id)
    await _set_status(workspace_id, flow["id"], "archived")
    live = await statements.run("automations.live-of-flow", workspace_id, flow["id"])
    if live:
        await statements.run("automations.exit-waiting", workspace_id, [row["id"] for row in live], "archived", now)
    return await owned_flow(workspace_id, flow["id"])


async def versions(workspace_id: int, flow_id: int) -> list[dict[str, Any]]:
    """The flow's published versions, newest first."""
    flow = await owned_flow(workspace_id, flow_id)
    return await FlowVersion.select(FlowVersion.version, FlowVersion.created_at).where(
        owned_by(FlowVersion, workspace_id), FlowVersion.flow_id == flow["id"]).order_by(
        FlowVersion.version, ascending=False)


async def checked_migration(workspace_id: int, flow_id: int, from_version: object,
                            to_step_id: str) -> tuple[int, dict[str, Any]]:
    """The older version people wait on and the published step they would move to; FormError names every
    field chosen wrong at once."""
    flow = await owned_flow(workspace_id, flow_id)
    target = await current_version(workspace_id, flow["id"], flow["version"])
    step = next((s for s in (target or {}).get("steps", []) if s["id"] == to_step_id), None)
    errors: dict[str, str] = {}
    text = str(from_version).strip()
    if not text.isdigit() or not 1 <= int(text) <= flow["version"]:
        errors["from_version"] = "Choose the version people are waiting on."
    elif int(text) == flow["version"]:
        errors["from_version"] = "These people are on the published version already."
    if step is None:
        errors["to_step_id"] = "Choose a step of the published version."
    if errors or step is None:
        raise FormError(errors)
    return int(text), step


async def migrate_waiting(workspace_id: int, flow_id: int, from_version: int, to_step_id: str, *,
                          now: datetime) -> int:
    """Move everyone waiting on `from_version` to step `to_step_id` of the current version, explicitly (they
    run it from there as newly arrived); how many moved."""
    flow = await owned_flow(workspace_id, flow_id)
    _, step = await checked_migration(workspace_id, flow["id"], from_version, to_step_id)
    async with DB.transaction():
        waiting = await statements.run("automations.waiting-on-version", workspace_id, flow["id"], from_version, now)
        if not waiting:
            return 0
        ids = [row["enrolment_id"] for row in waiting]
        await statements.run("automations.leave-steps", workspace_id, flow["id"], from_version,
                             [row["step_id"] for row in waiting])
        await statements.run("automations.repoint-enrolments", workspace_id, ids, flow["version"])
        await placing.place(workspace_id, flow["id"], flow["version"], step, [
            placing.Move(row["enrolment_id"], row["subscriber_id"], row["visit"]) for row in waiting], now)
        if flow["status"] != "active":
            await statements.run("automations.hold-flow", workspace_id, flow["id"])
    return len(waiting)


async def duplicate(workspace_id: int, flow_id: int) -> dict[str, Any]:
    """A new draft flow with the flow's draft (trigger, settings, steps) under the name "Copy of …"."""
    flow = await owned_flow(workspace_id, flow_id)
    return await create_flow(workspace_id, {"name": f"Copy of {flow['name']}"[:120], "trigger": flow["trigger"],
                                            "settings": flow["settings"], "steps": flow["draft_steps"]})


async def discard_draft(workspace_id: int, flow_id: int) -> dict[str, Any]:
    """The draft's changes dropped: its trigger, settings and steps are the published version's again."""
    flow = await owned_flow(workspace_id, flow_id)
    published = await current_version(workspace_id, flow["id"], flow["version"]) if flow["version"] else None
    if published is None:
        raise FormError("This flow was never published: there is no version to go back to.", "status")
    await Flow.update({Flow.draft_steps: published["steps"], Flow.trigger: published["trigger"],
                       Flow.settings: published["settings"], Flow.updated_at: datetime.now(UTC)}).where(
        owned_by(Flow, workspace_id), Flow.id == flow["id"])
    return await owned_flow(workspace_id, flow["id"])


async def delete_draft(workspace_id: int, flow_id: int) -> str:
    """A flow never activated deleted (no one was ever in it); its name. Others are archived instead, so their
    reports and people's timelines keep them."""
    flow = await owned_flow(workspace_id, flow_id)
    if flow["status"] != "draft" or flow["version"]:
        raise FormError("Only a flow never activated can be deleted; archive this one instead.", "status")
    await Flow.delete().where(owned_by(Flow, workspace_id), Flow.id == flow["id"])
    return flow["name"]
