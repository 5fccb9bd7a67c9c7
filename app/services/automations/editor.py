"""The flow editor's changes to a step list: add (after a step or into a branch), move, delete, duplicate, and
a step's form read into its params. Each change answers a new list in display order; nothing is saved here.

A flow starts at its first step; every step but a condition continues at `next`, a condition at `yes`/`no`.
The editor only builds trees (each step has one way in), so a step is moved or removed by relinking the one
place that leads to it.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from app.services import lists
from app.services.automations import flows
from app.services.forms import FORM_WIDE, FormError

KINDS: dict[str, str] = {
    "send": "Send an email", "wait": "Wait", "condition": "Condition (yes/no)", "tag": "Add or remove tags",
    "field": "Update a field", "list": "Move or copy to a list", "unsubscribe": "Unsubscribe",
    "webhook": "Call a webhook", "goto": "Go to another step", "end": "End the flow",
}
# A step that stops its branch: nothing is added after it.
FINAL_KINDS = ("end",)
BRANCHES = ("yes", "no")
START = "start"
WAIT_MODES = {"duration": "For a while", "time_of_day": "Until a time of day", "weekday": "Until a weekday",
              "event": "Until something happens"}
UNITS = {"minutes": 1, "hours": 60, "days": 1440}
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
EVENTS = ("opened", "clicked", "converted", "subscribed", "confirmed")
TESTS = {"segment": "Is in a segment", "event": "Did something", "field": "Has a field value"}
FIELD_OPS = {"eq": "is", "neq": "is not", "contains": "contains", "empty": "is empty", "not_empty": "is not empty"}
EVENT_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_.:-]{0,63}$")
TAG = re.compile(r"^[A-Za-z0-9_]{1,64}$")


@dataclass(frozen=True)
class Row:
    """One line of the editor's outline: a step, the head of a condition's branch, or a jump back into a step
    shown elsewhere (`kind` is "step", "branch" or "jump")."""

    kind: str
    depth: int
    step: Mapping[str, Any] | None = None
    condition_id: str = ""
    branch: str = ""
    target: str = ""


def steps_of(flow: Mapping[str, Any]) -> list[dict]:
    """The flow's draft steps (asyncpg hands jsonb over as text)."""
    steps = flow["draft_steps"]
    return json.loads(steps) if isinstance(steps, str) else list(steps or [])


def _by_id(steps: list[dict]) -> dict[str, dict]:
    return {step["id"]: step for step in steps}


def _exits(step: Mapping[str, Any]) -> list[str]:
    return list(BRANCHES) if step["kind"] == "condition" else ["next"]


def outline(steps: list[dict]) -> list[Row]:
    """The steps from the first, branches indented under their Yes and No heads; a step met twice is a jump."""
    found, seen, rows = _by_id(steps), set(), []

    def walk(step_id: str | None, depth: int) -> Iterator[Row]:
        while step_id and step_id in found:
            if step_id in seen:
                yield Row("jump", depth, target=step_id)
                return
            seen.add(step_id)
            step = found[step_id]
            yield Row("step", depth, step=step)
            if step["kind"] == "condition":
                for branch in BRANCHES:
                    yield Row("branch", depth + 1, condition_id=step_id, branch=branch)
                    yield from walk(step.get(branch), depth + 2)
                return
            step_id = step.get("next")

    if steps:
        rows.extend(walk(steps[0]["id"], 0))
    # Steps no path reaches still show, at the end, so they can be deleted.
    rows.extend(Row("step", 0, step=step) for step in steps if step["id"] not in seen)
    return rows


def in_display_order(steps: list[dict]) -> list[dict]:
    found = _by_id(steps)
    return [found[row.step["id"]] for row in outline(steps) if row.kind == "step" and row.step is not None]


def _new_id(steps: list[dict]) -> str:
    numbers = [int(step["id"][1:]) for step in steps if re.fullmatch(r"s\d+", step["id"])]
    return f"s{max(numbers, default=0) + 1}"


def _blank(kind: str, step_id: str, following: str | None) -> dict:
    if kind not in KINDS:
        raise FormError({"kind": "Choose a kind of step."})
    step: dict[str, Any] = {"id": step_id, "kind": kind, "params": {}}
    if kind == "condition":
        # What followed carries on when the answer is yes; the No branch starts empty.
        step.update(yes=following, no=None)
    else:
        step["next"] = None if kind in FINAL_KINDS else following
    return step


def _way_in(steps: list[dict], step_id: str) -> tuple[dict | None, str]:
    """The step and exit ("next", "yes" or "no") that lead to `step_id`; (None, START) for the first step."""
    for step in steps:
        for exit_name in _exits(step):
            if step.get(exit_name) == step_id:
                return step, exit_name
    return None, START


def _relink(steps: list[dict], step_id: str, to: str | None) -> list[dict]:
    """The list with whatever led to `step_id` leading to `to` instead (the first step becomes `to`)."""
    before, exit_name = _way_in(steps, step_id)
    if before is not None:
        before[exit_name] = to
        return steps
    if to is None:
        return steps
    found = _by_id(steps)
    return [found[to], *(step for step in steps if step["id"] != to)]


def _step(steps: list[dict], step_id: str) -> dict:
    for step in steps:
        if step["id"] == step_id:
            return step
    raise LookupError(f"no step {step_id!r}")


def add_step(steps: list[dict], kind: str, position: str) -> tuple[list[dict], str]:
    """The list with a new, empty step of `kind` at `position` ("start", "after:<id>" or "<id>:yes|no"),
    and the new step's id."""
    steps = copy.deepcopy(steps)
    step_id = _new_id(steps)
    if position == START:
        added = _blank(kind, step_id, steps[0]["id"] if steps else None)
        return in_display_order([added, *steps]), step_id
    anchor_id, _, branch = position.removeprefix("after:").partition(":")
    anchor = _step(steps, anchor_id)
    exit_name = branch if anchor["kind"] == "condition" and branch in BRANCHES else "next"
    if exit_name not in _exits(anchor):
        raise FormError({"kind": "A step cannot be added there."})
    following = anchor.get(exit_name)
    if kind in FINAL_KINDS and following:
        raise FormError({"kind": "An end can only close a branch: delete the steps after it first."})
    anchor[exit_name] = step_id
    return in_display_order([*steps, _blank(kind, step_id, following)]), step_id


def delete_step(steps: list[dict], step_id: str) -> list[dict]:
    """The list without the step; what led to it leads on to what followed it (for a condition: its Yes
    branch, while its No branch goes too)."""
    steps = copy.deepcopy(steps)
    step = _step(steps, step_id)
    gone = {step_id}
    if step["kind"] == "condition":
        gone |= _reach(steps, step.get("no")) - _reach(steps, step.get("yes"))
    following = step.get("yes") if step["kind"] == "condition" else step.get("next")
    kept = [other for other in _relink(steps, step_id, following) if other["id"] not in gone]
    return in_display_order(kept)


def _reach(steps: list[dict], start: str | None) -> set[str]:
    found, reached, todo = _by_id(steps), set(), [start]
    while todo:
        step_id = todo.pop()
        if not step_id or step_id in reached or step_id not in found:
            continue
        reached.add(step_id)
        todo.extend(found[step_id].get(exit_name) for exit_name in _exits(found[step_id]))
    return reached


def duplicate_step(steps: list[dict], step_id: str) -> tuple[list[dict], str]:
    """The list with a copy of the step (not a condition) right after it, and the copy's id."""
    steps = copy.deepcopy(steps)
    step = _step(steps, step_id)
    if step["kind"] == "condition" or step["kind"] in FINAL_KINDS:
        raise FormError({FORM_WIDE: "Only a step with one way on can be duplicated."})
    twin = {**copy.deepcopy(step), "id": _new_id(steps), "next": step.get("next")}
    step["next"] = twin["id"]
    return in_display_order([*steps, twin]), twin["id"]



def movable(steps: list[dict], step_id: str, direction: str) -> bool:
    """Whether a step can swap places with its neighbour in the same line of steps (conditions stay put)."""
    return _neighbours(steps, step_id, direction) is not None


def _neighbours(steps: list[dict], step_id: str, direction: str) -> tuple[dict, dict] | None:
    """(upper, lower): the two one-way steps that swap when `step_id` moves up or down, or None."""
    found = _by_id(steps)
    step = found.get(step_id)
    if step is None or step["kind"] == "condition":
        return None
    if direction == "up":
        before, exit_name = _way_in(steps, step_id)
        pair = (before, step) if before is not None and exit_name == "next" else None
    else:
        after = found.get(step.get("next") or "")
        pair = (step, after) if after is not None else None
    if pair is None or pair[1]["kind"] == "condition" or pair[0]["kind"] in FINAL_KINDS:
        return None
    return pair


def move_step(steps: list[dict], step_id: str, direction: str) -> list[dict]:
    """The list with the step swapped with the step above or below it in its line."""
    steps = copy.deepcopy(steps)
    pair = _neighbours(steps, step_id, direction)
    if pair is None:
        raise FormError({FORM_WIDE: "That step cannot move further that way."})
    upper, lower = pair
    steps = _relink(steps, upper["id"], lower["id"])
    upper["next"], lower["next"] = lower.get("next"), upper["id"]
    return in_display_order(steps)


def replace_params(steps: list[dict], step_id: str, params: dict[str, Any]) -> list[dict]:
    steps = copy.deepcopy(steps)
    _step(steps, step_id)["params"] = params
    return steps


# --- a step's form, read into params ---------------------------------------------------------------------------


def _whole(form: Mapping[str, str], name: str, errors: dict[str, str], *, low: int = 0,
           high: int = 10_000_000) -> int | None:
    text = str(form.get(name, "")).strip()
    if not text.isdigit() or not low <= int(text) <= high:
        errors[name] = f"Enter a whole number from {low:,} to {high:,}."
        return None
    return int(text)


def _minutes(form: Mapping[str, str], amount: str, unit: str, errors: dict[str, str]) -> int | None:
    count = _whole(form, amount, errors, low=1, high=100_000)
    if str(form.get(unit, "")) not in UNITS:
        errors[unit] = "Choose minutes, hours or days."
        return None
    return None if count is None else count * UNITS[str(form[unit])]


def _clock(form: Mapping[str, str], name: str, errors: dict[str, str]) -> int | None:
    match = re.fullmatch(r"(\d{1,2}):(\d{2})", str(form.get(name, "")).strip())
    if not match or int(match[1]) > 23 or int(match[2]) > 59:
        errors[name] = "Enter a time such as 09:30."
        return None
    return int(match[1]) * 60 + int(match[2])


def _event(form: Mapping[str, str], name: str, errors: dict[str, str]) -> str:
    event = str(form.get(name, "")).strip()
    if not EVENT_NAME.match(event):
        errors[name] = "Enter an event name such as opened or viewed_offer (letters, digits, _ . : -)."
    return event


def _choice(form: Mapping[str, str], name: str, choices: Mapping[str, str] | tuple, errors: dict[str, str],
            message: str) -> str:
    value = str(form.get(name, ""))
    if value not in choices:
        errors[name] = message
    return value


def _wait(form: Mapping[str, str], errors: dict[str, str]) -> dict[str, Any]:
    mode = _choice(form, "mode", WAIT_MODES, errors, "Choose how long to wait.")
    if mode == "duration":
        return {"mode": mode, "minutes": _minutes(form, "amount", "unit", errors)}
    if mode == "time_of_day":
        return {"mode": mode, "minute_of_day": _clock(form, "time", errors)}
    if mode == "weekday":
        day = _whole(form, "weekday", errors, low=0, high=6)
        return {"mode": mode, "weekday": day, "minute_of_day": _clock(form, "time", errors)}
    if mode == "event":
        return {"mode": mode, "event": _event(form, "event", errors),
                "timeout_minutes": _minutes(form, "timeout_amount", "timeout_unit", errors)}
    return {}


def _email(text: str) -> bool:
    return bool(re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", text))


def _send(form: Mapping[str, str], errors: dict[str, str]) -> dict[str, Any]:
    params: dict[str, Any] = {"template_id": _whole(form, "template_id", errors, low=1, high=2**31 - 1)}
    if "template_id" in errors:
        errors["template_id"] = "Choose a template."
    for name in ("subject", "from_name", "from_email"):
        params[name] = str(form.get(name, "")).strip()
    if params["from_email"] and not _email(params["from_email"]):
        errors["from_email"] = "Enter an address such as news@example.com, or leave it blank for the template's."
    if str(form.get("template_b", "")).strip():
        b_id = _whole(form, "template_b", errors, low=1, high=2**31 - 1)
        share = _whole(form, "weight_b", errors, low=1, high=99)
        params["variants"] = [
            {"template_id": params["template_id"], "subject": params["subject"], "weight": 100 - (share or 50)},
            {"template_id": b_id, "subject": str(form.get("subject_b", "")).strip() or params["subject"],
             "weight": share}]
    return params


def _condition(form: Mapping[str, str], errors: dict[str, str]) -> dict[str, Any]:
    test = _choice(form, "test", TESTS, errors, "Choose what to test.")
    if test == "segment":
        segment = _whole(form, "segment_id", errors, low=1, high=2**31 - 1)
        if "segment_id" in errors:
            errors["segment_id"] = "Choose a segment."
        return {"test": test, "segment_id": segment}
    if test == "event":
        return {"test": test, "event": _event(form, "event", errors),
                "within_minutes": _minutes(form, "within_amount", "within_unit", errors)}
    if test == "field":
        op = _choice(form, "op", FIELD_OPS, errors, "Choose how to compare.")
        params = {"test": test, "field": _tag(form, "field", errors), "op": op,
                  "value": str(form.get("value", "")).strip()}
        if op in ("eq", "neq", "contains") and not params["value"]:
            errors["value"] = "Enter the value to compare with."
        return params
    return {}


def _tag(form: Mapping[str, str], name: str, errors: dict[str, str]) -> str:
    tag = str(form.get(name, "")).strip()
    if not TAG.match(tag):
        errors[name] = "Enter the field's merge tag: letters, digits and _ (such as plan)."
    return tag


def _tags(text: str) -> list[str]:
    return [tag for tag in (part.strip() for part in text.split(",")) if tag]


def _tagging(form: Mapping[str, str], errors: dict[str, str]) -> dict[str, Any]:
    params = {"add": _tags(str(form.get("add", ""))), "remove": _tags(str(form.get("remove", "")))}
    if not params["add"] and not params["remove"]:
        errors["add"] = "Enter at least one tag to add or to remove, separated by commas."
    return params


def _field(form: Mapping[str, str], errors: dict[str, str]) -> dict[str, Any]:
    return {"field": _tag(form, "field", errors), "value": str(form.get("value", "")).strip()}


def _list(form: Mapping[str, str], errors: dict[str, str]) -> dict[str, Any]:
    action = _choice(form, "action", ("move", "copy"), errors, "Choose move or copy.")
    list_id = _whole(form, "list_id", errors, low=1, high=2**31 - 1)
    if "list_id" in errors:
        errors["list_id"] = "Choose a list."
    return {"action": action, "list_id": list_id}


def _webhook(form: Mapping[str, str], errors: dict[str, str]) -> dict[str, Any]:
    url = str(form.get("url", "")).strip()
    if not re.fullmatch(r"https?://[^\s/]+\S*", url):
        errors["url"] = "Enter an address starting with https://."
    return {"url": url}


def _goto(form: Mapping[str, str], errors: dict[str, str]) -> dict[str, Any]:
    target = str(form.get("target", "")).strip()
    if not target:
        errors["target"] = "Choose the step to go to."
    return {"target": target, "limit": _whole(form, "limit", errors, low=1, high=100)}


def _nothing(form: Mapping[str, str], errors: dict[str, str]) -> dict[str, Any]:
    return {}


READERS = {"wait": _wait, "send": _send, "condition": _condition, "tag": _tagging, "field": _field,
           "list": _list, "unsubscribe": _nothing, "webhook": _webhook, "goto": _goto, "end": _nothing}


def params_of_form(kind: str, form: Mapping[str, str]) -> dict[str, Any]:
    """A step's params from its form; FormError names each field typed wrong."""
    errors: dict[str, str] = {}
    params = READERS[kind](form, errors)
    if errors:
        raise FormError(errors)
    return params


def _amount_unit(minutes: int | None) -> tuple[str, str]:
    if not minutes:
        return "", "days"
    for unit in ("days", "hours"):
        if minutes % UNITS[unit] == 0:
            return str(minutes // UNITS[unit]), unit
    return str(minutes), "minutes"


def _clock_text(minute_of_day: int | None) -> str:
    return "" if minute_of_day is None else "{:02d}:{:02d}".format(*divmod(minute_of_day, 60))


def form_of_params(kind: str, params: Mapping[str, Any]) -> dict[str, str]:
    """A step's params as its form shows them (the names `params_of_form` reads)."""
    values = {name: "" if value is None else str(value) for name, value in params.items()
              if not isinstance(value, list | dict)}
    if kind == "wait":
        values["amount"], values["unit"] = _amount_unit(params.get("minutes"))
        values["timeout_amount"], values["timeout_unit"] = _amount_unit(params.get("timeout_minutes"))
        values["time"] = _clock_text(params.get("minute_of_day"))
    if kind == "condition":
        values["within_amount"], values["within_unit"] = _amount_unit(params.get("within_minutes"))
    if kind == "tag":
        values["add"], values["remove"] = ", ".join(params.get("add") or ()), ", ".join(params.get("remove") or ())
    if kind == "send" and len(params.get("variants") or ()) > 1:
        second = params["variants"][1]
        values.update(template_b=str(second.get("template_id") or ""), subject_b=str(second.get("subject") or ""),
                      weight_b=str(second.get("weight") or ""))
    return values


# --- the trigger and the settings ------------------------------------------------------------------------------

TRIGGERS = {
    "subscribed": "Subscribes to a list", "confirmed": "Confirms a subscription (double opt-in)",
    "tag_added": "Gets a tag", "field_changed": "Has a field changed", "date": "Reaches a date in a field",
    "opened": "Opens an email", "clicked": "Clicks a link in an email", "converted": "Converts",
    "segment": "Enters a segment", "event": "Does something posted through the API",
    "manual": "Only when you enrol people",
}


def _optional_id(form: Mapping[str, str], name: str, errors: dict[str, str]) -> int | None:
    return _whole(form, name, errors, low=1, high=2**31 - 1) if str(form.get(name, "")).strip() else None


def trigger_of_form(form: Mapping[str, str]) -> dict[str, Any]:
    """The trigger the form chose; FormError names each field typed wrong."""
    errors: dict[str, str] = {}
    kind = _choice(form, "trigger_kind", TRIGGERS, errors, "Choose what starts the flow.")
    trigger: dict[str, Any] = {"kind": kind}
    if kind in ("subscribed", "confirmed"):
        trigger["list_id"] = _whole(form, "list_id", errors, low=1, high=2**31 - 1)
        if "list_id" in errors:
            errors["list_id"] = "Choose a list."
    elif kind == "tag_added":
        trigger["tag"] = str(form.get("tag", "")).strip()
        if not trigger["tag"]:
            errors["tag"] = "Enter the tag."
    elif kind == "field_changed":
        trigger["field"] = _tag(form, "field", errors)
        trigger["value"] = str(form.get("value", "")).strip() or None
    elif kind == "date":
        trigger.update(field=_tag(form, "field", errors),
                       offset_days=_signed(form, "offset_days", errors),
                       minute_of_day=_clock(form, "time", errors))
    elif kind in ("opened", "clicked"):
        trigger["campaign_id"] = _optional_id(form, "campaign_id", errors)
    elif kind == "converted":
        trigger["offer_id"] = str(form.get("offer_id", "")).strip() or None
    elif kind == "segment":
        trigger["segment_id"] = _whole(form, "segment_id", errors, low=1, high=2**31 - 1)
        if "segment_id" in errors:
            errors["segment_id"] = "Choose a segment."
    elif kind == "event":
        trigger["event"] = _event(form, "event", errors)
    if errors:
        raise FormError(errors)
    return trigger


def _signed(form: Mapping[str, str], name: str, errors: dict[str, str]) -> int | None:
    text = str(form.get(name, "")).strip() or "0"
    if not re.fullmatch(r"-?\d{1,3}", text):
        errors[name] = "Enter a number of days, such as 0, 7 or -3 (before the date)."
        return None
    return int(text)


def form_of_trigger(trigger: Mapping[str, Any]) -> dict[str, str]:
    values = {name: "" if value is None else str(value) for name, value in trigger.items() if name != "kind"}
    values["trigger_kind"] = str(trigger.get("kind") or "")
    values["time"] = _clock_text(trigger.get("minute_of_day"))
    return values


def settings_of_form(form: Mapping[str, str]) -> dict[str, Any]:
    """The flow's settings from its form; FormError names each field typed wrong."""
    errors: dict[str, str] = {}
    enrolment = _choice(form, "enrolment", ("once", "every"), errors, "Choose once or every time.")
    gap = _whole(form, "min_gap_hours", errors, low=0, high=100_000) if str(form.get("min_gap_hours", "")).strip() \
        else 0
    exit_on: list[Any] = [name for name in ("unsubscribed", "converted") if form.get(f"exit_{name}")]
    segment = _optional_id(form, "exit_segment_id", errors)
    if segment:
        exit_on.append({"segment_id": segment})
    goal = str(form.get("goal_event", "")).strip()
    if goal:
        _event(form, "goal_event", errors)
    if errors:
        raise FormError(errors)
    return {"enrolment": enrolment, "min_gap_hours": gap, "exit_on": exit_on,
            "goal": {"event": goal} if goal else None}


def form_of_settings(settings: Mapping[str, Any]) -> dict[str, str]:
    exit_on = settings.get("exit_on") or []
    segment = next((item.get("segment_id") for item in exit_on if isinstance(item, dict)), None)
    return {"enrolment": str(settings.get("enrolment") or "once"),
            "min_gap_hours": str(settings.get("min_gap_hours") or 0),
            "exit_unsubscribed": "on" if "unsubscribed" in exit_on else "",
            "exit_converted": "on" if "converted" in exit_on else "",
            "exit_segment_id": "" if segment is None else str(segment),
            "goal_event": str((settings.get("goal") or {}).get("event") or "")}


def audience_of_form(form: Mapping[str, str]) -> dict[str, int | None]:
    """The list or the segment (exactly one) whose people a manual enrolment takes."""
    errors: dict[str, str] = {}
    chosen = {"list_id": _optional_id(form, "list_id", errors),
              "segment_id": _optional_id(form, "segment_id", errors)}
    if not errors and (chosen["list_id"] is None) == (chosen["segment_id"] is None):
        errors["list_id"] = "Choose a list or a segment (one of them)."
    if errors:
        raise FormError(errors)
    return chosen


async def create_autoresponder(workspace_id: int, form: Mapping[str, str]) -> dict[str, Any]:
    """"N days after joining list L, send template T": a flow of a wait and a send, created active. Joining a
    double opt-in list is confirming it."""
    errors: dict[str, str] = {}
    days = _whole(form, "days", errors, low=0, high=3650)
    list_id = _whole(form, "list_id", errors, low=1, high=2**31 - 1)
    if "list_id" in errors:
        errors["list_id"] = "Choose a list."
    try:
        send = params_of_form("send", form)
    except FormError as error:
        errors.update(error.errors)
        send = {}
    if errors:
        raise FormError(errors)
    steps: list[dict[str, Any]] = [{"id": "s2", "kind": "send", "params": send, "next": None}]
    if days:
        steps.insert(0, {"id": "s1", "kind": "wait", "params": {"mode": "duration", "minutes": days * 1440},
                         "next": "s2"})
    mailing_list = await lists.get_list(workspace_id, list_id)
    if mailing_list is None:
        raise FormError({"list_id": "Choose a list."})
    # On a double opt-in list, joining counts once the address is confirmed: before that it may not be mailed.
    joined = "confirmed" if mailing_list["opt_in"] == "double" else "subscribed"
    created = await flows.create_flow(workspace_id, {
        "name": str(form.get("name", "")).strip(), "trigger": {"kind": joined, "list_id": list_id},
        "steps": steps})
    return await flows.activate(workspace_id, created["id"])
