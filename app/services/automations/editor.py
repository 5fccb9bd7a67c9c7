"""The flow editor's changes to a step list: add (after a step or into a branch), move, delete, duplicate, and
the outline the editor draws. Each change answers a new list in display order; nothing is saved here.

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


def step_of(steps: list[dict], step_id: str) -> dict:
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
    anchor = step_of(steps, anchor_id)
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
    step = step_of(steps, step_id)
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
    step = step_of(steps, step_id)
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
    step_of(steps, step_id)["params"] = params
    return steps


def changed(steps: list[dict], step_id: str, change: str, direction: str = "") -> tuple[list[dict], str]:
    """The list after a step is moved ("move" up or down), duplicated or deleted, and the step to show as just
    changed ("" when it is gone)."""
    if change == "move":
        return move_step(steps, step_id, direction), step_id
    if change == "duplicate":
        return duplicate_step(steps, step_id)
    if change == "delete":
        return delete_step(steps, step_id), ""
    raise LookupError(f"no change {change!r}")
