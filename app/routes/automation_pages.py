"""What the automation pages show: each page's template data, kept apart from the handlers
(app/routes/automations.py) so those stay a screen of parse, call, render."""

from __future__ import annotations

import json
from typing import Any

from redis.asyncio import Redis

from app.routes.portals import permitted, section_context
from app.services import lists, templates
from app.services.accounts import Viewer
from app.services.automations import editor, flow_forms, flows, limits, reports, step_forms
from app.services.segments import list_segments
from app.web.permissions import CHANGE

FOLDER = "mailing/automations"
INDEX = f"{FOLDER}/index.html"
NEW = f"{FOLDER}/new.html"
SHORTCUT = f"{FOLDER}/autoresponder.html"
LIMITS = f"{FOLDER}/limits.html"
EDITOR = f"{FOLDER}/show.html"
STEPS = f"{FOLDER}/partials/steps.html"
TRIGGER_FIELDS = f"{FOLDER}/partials/trigger_fields.html"
REPORT = f"{FOLDER}/report.html"
STATUS_LABELS = {"draft": "Draft", "active": "Active", "paused": "Paused", "archived": "Archived"}
CAN = (CHANGE, "campaigns.send")


def _base(viewer: Viewer) -> dict[str, Any]:
    return {**section_context("mailing", "automations"), "can": permitted(viewer, *CAN), "labels": STATUS_LABELS,
            "errors": {}, "form": {}}


async def choices(workspace_id: int) -> dict[str, Any]:
    """What a trigger or step may name (lists, segments, templates of the workspace) as select options and
    as names by id, with the editor's fixed choices."""
    named = {"lists": {row["id"]: row["name"] for row in await lists.lists_with_counts(workspace_id)},
             "segments": {row["id"]: row["name"] for row in await list_segments(workspace_id)},
             "templates": {row["id"]: row["name"] for row in await templates.library(workspace_id)}}
    archived = {row["id"]: row["name"] for row in await templates.library(workspace_id, archived=True)}
    return {"names": {**named, "archived_templates": archived, "weekdays": step_forms.WEEKDAYS,
                      "field_ops": step_forms.FIELD_OPS},
            **{f"{kind[:-1]}_options": [(str(key), name) for key, name in found.items()]
               for kind, found in named.items()},
            "weekday_options": [(str(day), name) for day, name in enumerate(step_forms.WEEKDAYS)],
            "triggers": flow_forms.TRIGGERS, "kinds": editor.KINDS, "wait_modes": step_forms.WAIT_MODES,
            "tests": step_forms.TESTS, "field_ops": step_forms.FIELD_OPS}


async def index_context(viewer: Viewer, workspace_id: int, before: int | None) -> dict[str, Any]:
    rows = await reports.flows_page(workspace_id, before_id=before)
    return {**_base(viewer), "flows": [{**row, "trigger": _json(row["trigger"])} for row in rows],
            "before": before, "next_before": rows[-1]["id"] if len(rows) == reports.PAGE_SIZE else None,
            **await choices(workspace_id)}


async def new_context(viewer: Viewer, workspace_id: int) -> dict[str, Any]:
    return {**_base(viewer), "form": {"trigger_kind": "subscribed"}, **await choices(workspace_id)}


async def shortcut_context(viewer: Viewer, workspace_id: int) -> dict[str, Any]:
    return {**_base(viewer), "form": {"days": "1"}, **await choices(workspace_id)}


async def limits_context(viewer: Viewer, workspace_id: int) -> dict[str, Any]:
    return {**_base(viewer), "form": await limits.get_limits(workspace_id), "notice": ""}


def _json(value: Any) -> Any:
    # asyncpg hands jsonb over as text.
    return json.loads(value) if isinstance(value, str) else value


async def _published(workspace_id: int, flow: dict[str, Any]) -> dict[str, Any] | None:
    if not flow["version"]:
        return None
    return await flows.current_version(workspace_id, flow["id"], flow["version"])


def _archived_sends(steps: list[dict[str, Any]], archived: dict[int, str]) -> dict[str, list[str]]:
    """The send steps that name an archived template (still sent, but no longer offered), with its names."""
    found: dict[str, list[str]] = {}
    for step in steps:
        if step["kind"] == "send":
            variants = step["params"].get("variants") or []
            ids = [step["params"].get("template_id")] + [variant.get("template_id") for variant in variants]
            names = [archived[i] for i in dict.fromkeys(ids) if i in archived]
            if names:
                found[step["id"]] = names
    return found


async def steps_context(viewer: Viewer, workspace_id: int, flow_id: int, editing: str = "",
                        adding: tuple[str, str] | None = None, saved: str = "") -> dict[str, Any]:
    """The steps section: the outline, the step open for editing (or a new step's form at a position)."""
    flow = await flows.owned_flow(workspace_id, flow_id)
    steps = editor.steps_of(flow)
    published = await _published(workspace_id, flow)
    named = await choices(workspace_id)
    return {**_base(viewer), **named, "flow": flow, "steps": steps,
            "archived_sends": _archived_sends(steps, named["names"]["archived_templates"]),
            "rows": editor.outline(steps), "editing": editing, "saved": saved,
            "by_id": {step["id"]: step for step in steps}, "step_ids": [step["id"] for step in steps],
            "adding": {"kind": adding[0], "position": adding[1]} if adding else None,
            "step_forms": {step["id"]: step_forms.form_of_params(step["kind"], step["params"]) for step in steps},
            "movable": {step["id"]: {direction: editor.movable(steps, step["id"], direction)
                                     for direction in ("up", "down")} for step in steps},
            "unpublished": published is not None and published["steps"] != steps,
            "published_steps": published["steps"] if published else []}


async def _head_context(workspace_id: int, flow: dict[str, Any]) -> dict[str, Any]:
    """What the flow's head shows: its counters and whether the draft differs from the published version."""
    published = await _published(workspace_id, flow)
    draft = (editor.steps_of(flow), _json(flow["trigger"]), _json(flow["settings"]))
    return {"counters": await reports.flow_counters(workspace_id, flow["id"]),
            "draft_changed": published is not None and (published["steps"], published["trigger"],
                                                        published["settings"]) != draft}


async def saved_steps_context(viewer: Viewer, workspace_id: int, flow_id: int, saved: str) -> dict[str, Any]:
    """The steps section after a change, with the flow's head drawn again out of band (the change may be what
    makes the draft differ from the published version)."""
    context = await steps_context(viewer, workspace_id, flow_id, saved=saved)
    return {**context, **await _head_context(workspace_id, context["flow"]), "head_oob": True}


async def editor_context(viewer: Viewer, workspace_id: int, flow_id: int, editing: str = "",
                        adding: tuple[str, str] | None = None) -> dict[str, Any]:
    context = await steps_context(viewer, workspace_id, flow_id, editing, adding)
    flow = context["flow"]
    trigger, settings = _json(flow["trigger"]), _json(flow["settings"])
    return {**context, **await _head_context(workspace_id, flow), "trigger": trigger, "settings": settings,
            "trigger_form": {**flow_forms.form_of_trigger(trigger), "name": flow["name"]},
            "settings_form": flow_forms.form_of_settings(settings),
            "older_versions": [(str(version), f"Version {version}") for version in range(flow["version"] - 1, 0, -1)],
            "published_step_options": [(step["id"], f"{step['id']} · {editor.KINDS[step['kind']]}")
                                       for step in context["published_steps"]]}


async def report_context(viewer: Viewer, workspace_id: int, flow_id: int, redis: Redis, step: str,
                         after: int | None) -> dict[str, Any]:
    flow = await flows.owned_flow(workspace_id, flow_id)
    published = await _published(workspace_id, flow)
    steps = published["steps"] if published else editor.steps_of(flow)
    waiting = await reports.at_step(workspace_id, flow_id, step, after) if step else []
    figures = await reports.step_figures(workspace_id, flow_id)
    return {**_base(viewer), **await choices(workspace_id), "flow": flow, "steps": steps,
            "rows": editor.outline(steps), "figures": figures,
            "outcomes": {step["id"]: reports.step_outcomes(step, figures.get(step["id"], {})) for step in steps},
            "engagement": await reports.step_engagement(redis, workspace_id, flow_id),
            "counters": await reports.flow_counters(workspace_id, flow_id), "step": step, "waiting": waiting,
            "next_after": waiting[-1].enrolment_id if len(waiting) == reports.STEP_PAGE else None}
