"""What a flow may be: its steps, trigger and settings, each checked with a message a person can act on.

Steps are a list (display order) of `{"id", "kind", "params", "next"}`; a condition has `"yes"`/`"no"`
instead of `next`; a null link ends the flow. The first step is where people enter. The links form a graph
without cycles: the only way back is a `goto`, which jumps at most `limit` times per enrolment and then
continues at its own `next`. With no cycles and every link naming a step (or null), every branch ends.
Step errors are keyed by step id, so the editor shows each message beside its step.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from app.db.audience import MailingList
from app.db.segments import Segment
from app.services.automations.step_params import (
    EVENT_NAME,
    FIELD_TAG,
    MINUTES_PER_DAY,
    owned,
    params_problem,
    text,
    whole,
)
from app.services.forms import FormError

KINDS = ("wait", "send", "condition", "tag", "field", "list", "unsubscribe", "webhook", "goto", "end")
TRIGGERS = ("subscribed", "confirmed", "tag_added", "field_changed", "date", "opened", "clicked", "converted",
            "segment", "event", "manual")
EXIT_ON = ("unsubscribed", "converted")
STEP_ID = re.compile(r"[A-Za-z0-9_-]{1,32}\Z")
MAX_STEPS = 200


def links(step: Mapping[str, Any]) -> list[str | None]:
    """Where a step continues: a condition's yes and no, any other step's next."""
    if step.get("kind") == "condition":
        return [step.get("yes"), step.get("no")]
    return [step.get("next")]


def _shape_problem(step: Any, seen: set[str]) -> str | None:
    if not isinstance(step, Mapping):
        return "A step must be an object."
    if not isinstance(step.get("id"), str) or not STEP_ID.match(step["id"]):
        return "A step id has 1 to 32 letters, digits, _ or -."
    if step["id"] in seen:
        return "Two steps have this id."
    if step.get("kind") not in KINDS:
        return "Choose what the step does."
    return None


def _cycle_members(steps: list[Mapping[str, Any]]) -> set[str]:
    """Steps on a cycle of links (goto targets are not links: a goto's jumps are limited)."""
    by_id = {step["id"]: step for step in steps}
    state: dict[str, int] = {}
    looping: set[str] = set()

    def visit(step_id: str, path: list[str]) -> None:
        state[step_id] = 1
        path.append(step_id)
        for target in links(by_id[step_id]):
            if target is None or target not in by_id:
                continue
            if state.get(target) == 1:
                looping.update(path[path.index(target):])
            elif target not in state:
                visit(target, path)
        path.pop()
        state[step_id] = 2

    for step in steps:
        if step["id"] not in state:
            visit(step["id"], [])
    return looping


def _reachable(steps: list[Mapping[str, Any]]) -> set[str]:
    by_id = {step["id"]: step for step in steps}
    found: set[str] = set()
    todo = [steps[0]["id"]] if steps else []
    while todo:
        step_id = todo.pop()
        if step_id in found or step_id not in by_id:
            continue
        found.add(step_id)
        step = by_id[step_id]
        todo += [target for target in links(step) if target]
        if step["kind"] == "goto":
            todo.append(step.get("params", {}).get("target"))
    return found


def _goto_problem(step: Mapping[str, Any], by_id: Mapping[str, Mapping[str, Any]]) -> str | None:
    """A goto to an end step, or one whose jump comes back to it without a wait on the way (it would repeat
    its steps at once, `limit` times in a row)."""
    target = by_id.get(step["params"].get("target"))
    if target is None:
        return None
    if target["kind"] == "end":
        return "Go to a step other than an End step."
    seen: set[str] = set()
    todo: list[str | None] = [target["id"]]
    while todo:
        step_id = todo.pop()
        if step_id is None or step_id in seen or step_id not in by_id or by_id[step_id]["kind"] == "wait":
            continue
        if step_id == step["id"]:
            return "This go to repeats steps with no wait between them: add a wait step in the loop."
        seen.add(step_id)
        todo += links(by_id[step_id])
    return None


def normalized(step: Mapping[str, Any]) -> dict[str, Any]:
    """The step with only the keys its kind uses (an end step never continues)."""
    out: dict[str, Any] = {"id": step["id"], "kind": step["kind"], "params": dict(step.get("params") or {})}
    if step["kind"] == "condition":
        out["yes"], out["no"] = step.get("yes"), step.get("no")
    else:
        out["next"] = None if step["kind"] == "end" else step.get("next")
    return out


async def checked_steps(workspace_id: int, steps: Any) -> list[dict[str, Any]]:
    """The steps, normalised, or FormError with a message per step id ("steps" for the list as a whole)."""
    if not isinstance(steps, list):
        raise FormError("The steps must be a list.", "steps")
    if len(steps) > MAX_STEPS:
        raise FormError(f"A flow has at most {MAX_STEPS} steps.", "steps")
    errors: dict[str, str] = {}
    seen: set[str] = set()
    for index, step in enumerate(steps):
        problem = _shape_problem(step, seen)
        if problem:
            key = step["id"] if isinstance(step, Mapping) and isinstance(step.get("id"), str) and step["id"] \
                else f"step {index + 1}"
            errors.setdefault(key, problem)
        else:
            seen.add(step["id"])
    if errors:
        raise FormError(errors)
    clean = [normalized(step) for step in steps]
    for step in clean:
        if any(target is not None and target not in seen for target in links(step)):
            errors[step["id"]] = "The step leads to a step that does not exist."
        elif problem := await params_problem(workspace_id, step, seen):
            errors[step["id"]] = problem
    by_id = {step["id"]: step for step in clean}
    for step in clean:
        if step["kind"] == "goto" and step["id"] not in errors and (problem := _goto_problem(step, by_id)):
            errors[step["id"]] = problem
    for step_id in _cycle_members(clean):
        errors.setdefault(step_id, "The flow loops back here; use a “go to” step with a limit to repeat steps.")
    for step_id in seen - _reachable(clean):
        errors.setdefault(step_id, "No path leads to this step.")
    if errors:
        raise FormError(errors)
    return clean


def _exit_problem(items: Iterable[Any], segment_ok: set[Any]) -> bool:
    """Whether some exit condition is neither a known one nor a segment of the workspace."""
    return any(item not in EXIT_ON and not (isinstance(item, Mapping) and item.get("segment_id") in segment_ok)
               for item in items)


async def checked_settings(workspace_id: int, settings: Any) -> dict[str, Any]:
    """Enrolment once or every time (with a minimum gap in hours), exit conditions, goal event."""
    if not isinstance(settings, Mapping):
        raise FormError("The settings must be an object.", "settings")
    errors: dict[str, str] = {}
    enrolment = settings.get("enrolment", "once")
    if enrolment not in ("once", "every"):
        errors["enrolment"] = "Choose whether people enter once or every time."
    gap = whole(settings.get("min_gap_hours", 0), 0, 24 * 366)
    if gap is None:
        errors["min_gap_hours"] = "Enter a number of hours from 0 to 8,784."
    exit_on = settings.get("exit_on") or []
    segments = {item.get("segment_id") for item in exit_on if isinstance(item, Mapping)} \
        if isinstance(exit_on, list) else set()
    known = {segment for segment in segments if await owned(Segment, workspace_id, segment)}
    if not isinstance(exit_on, list) or _exit_problem(exit_on, known):
        errors["exit_on"] = "Choose when people leave the flow: unsubscribed, converted or entering a segment."
    goal = settings.get("goal")
    if goal is not None and not (isinstance(goal, Mapping) and EVENT_NAME.match(str(goal.get("event") or ""))):
        errors["goal"] = "Name the goal event (such as converted)."
    if errors:
        raise FormError(errors)
    out: dict[str, Any] = {"enrolment": enrolment, "min_gap_hours": gap, "exit_on": list(exit_on)}
    if goal:
        out["goal"] = {"event": goal["event"]}
    return out


async def checked_trigger(workspace_id: int, trigger: Any) -> dict[str, Any]:
    """The trigger with the keys its kind uses, or FormError keyed by the key that is wrong."""
    if not isinstance(trigger, Mapping) or trigger.get("kind") not in TRIGGERS:
        raise FormError("Choose what starts the flow.", "kind")
    kind = trigger["kind"]
    if kind in ("subscribed", "confirmed"):
        if not await owned(MailingList, workspace_id, trigger.get("list_id")):
            raise FormError("Choose a list.", "list_id")
        return {"kind": kind, "list_id": int(trigger["list_id"])}
    if kind == "tag_added":
        tag = text(trigger.get("tag"), 64)
        if not tag:
            raise FormError("Name the tag.", "tag")
        return {"kind": kind, "tag": tag}
    if kind == "field_changed":
        if not FIELD_TAG.match(str(trigger.get("field") or "")):
            raise FormError("Name the field by its merge tag (such as plan).", "field")
        value = trigger.get("value")
        if value is not None and text(value, 1000) is None:
            raise FormError("A value has at most 1,000 characters.", "value")
        return {"kind": kind, "field": trigger["field"], "value": value}
    if kind == "date":
        return _date_trigger(trigger)
    if kind in ("opened", "clicked"):
        campaign = trigger.get("campaign_id")
        if campaign is not None and whole(campaign, 1, 2**31 - 1) is None:
            raise FormError("Choose a campaign, or any campaign.", "campaign_id")
        return {"kind": kind, "campaign_id": campaign if campaign is None else int(campaign)}
    if kind == "converted":
        offer = trigger.get("offer_id")
        if offer is not None and not text(offer, 64):
            raise FormError("An offer id has 1 to 64 characters.", "offer_id")
        return {"kind": kind, "offer_id": offer if offer is None else offer.strip()}
    if kind == "segment":
        if not await owned(Segment, workspace_id, trigger.get("segment_id")):
            raise FormError("Choose a segment.", "segment_id")
        return {"kind": kind, "segment_id": int(trigger["segment_id"])}
    if kind == "event":
        if not EVENT_NAME.match(str(trigger.get("event") or "")):
            raise FormError("Name the event (such as viewed_offer).", "event")
        return {"kind": kind, "event": trigger["event"]}
    return {"kind": "manual"}


def _date_trigger(trigger: Mapping[str, Any]) -> dict[str, Any]:
    if not FIELD_TAG.match(str(trigger.get("field") or "")):
        raise FormError("Name the date field by its merge tag (such as birthday).", "field")
    offset = trigger.get("offset_days", 0)
    if isinstance(offset, bool) or not isinstance(offset, int) or not -365 <= offset <= 365:
        raise FormError("Enter a number of days from -365 to 365.", "offset_days")
    minute = whole(trigger.get("minute_of_day", 540), 0, MINUTES_PER_DAY - 1)
    if minute is None:
        raise FormError("Choose a time of day.", "minute_of_day")
    return {"kind": "date", "field": trigger["field"], "offset_days": offset, "minute_of_day": minute}
