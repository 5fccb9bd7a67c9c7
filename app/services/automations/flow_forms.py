"""A flow's trigger, settings and manual enrolment read from their forms and back, and the autoresponder
shortcut ("N days after joining list L, send template T") made into an active flow."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from app.services import lists
from app.services.automations import flows
from app.services.automations.step_forms import (
    choice,
    clock,
    clock_text,
    event_name,
    merge_tag,
    params_of_form,
    whole_number,
)
from app.services.forms import FormError

TRIGGERS = {
    "subscribed": "Subscribes to a list", "confirmed": "Confirms a subscription (double opt-in)",
    "tag_added": "Gets a tag", "field_changed": "Has a field changed", "date": "Reaches a date in a field",
    "opened": "Opens an email", "clicked": "Clicks a link in an email", "converted": "Converts",
    "segment": "Enters a segment", "event": "Does something posted through the API",
    "manual": "Only when you enrol people",
}


def _optional_id(form: Mapping[str, str], name: str, errors: dict[str, str]) -> int | None:
    return whole_number(form, name, errors, low=1, high=2**31 - 1) if str(form.get(name, "")).strip() else None


def trigger_of_form(form: Mapping[str, str]) -> dict[str, Any]:
    """The trigger the form chose; FormError names each field typed wrong."""
    errors: dict[str, str] = {}
    kind = choice(form, "trigger_kind", TRIGGERS, errors, "Choose what starts the flow.")
    trigger: dict[str, Any] = {"kind": kind}
    if kind in ("subscribed", "confirmed"):
        trigger["list_id"] = whole_number(form, "list_id", errors, low=1, high=2**31 - 1)
        if "list_id" in errors:
            errors["list_id"] = "Choose a list."
    elif kind == "tag_added":
        trigger["tag"] = str(form.get("tag", "")).strip()
        if not trigger["tag"]:
            errors["tag"] = "Enter the tag."
    elif kind == "field_changed":
        trigger["field"] = merge_tag(form, "field", errors)
        trigger["value"] = str(form.get("value", "")).strip() or None
    elif kind == "date":
        trigger.update(field=merge_tag(form, "field", errors),
                       offset_days=_signed(form, "offset_days", errors),
                       minute_of_day=clock(form, "time", errors))
    elif kind in ("opened", "clicked"):
        trigger["campaign_id"] = _optional_id(form, "campaign_id", errors)
    elif kind == "converted":
        trigger["offer_id"] = str(form.get("offer_id", "")).strip() or None
    elif kind == "segment":
        trigger["segment_id"] = whole_number(form, "segment_id", errors, low=1, high=2**31 - 1)
        if "segment_id" in errors:
            errors["segment_id"] = "Choose a segment."
    elif kind == "event":
        trigger["event"] = event_name(form, "event", errors)
    if errors:
        raise FormError(errors)
    return trigger


def named_trigger_of_form(form: Mapping[str, str]) -> dict[str, Any]:
    """The flow's name and trigger from its form; FormError names every field typed wrong at once."""
    errors: dict[str, str] = {}
    found: dict[str, Any] = {}
    for key, read in (("name", flows.checked_name), ("trigger", trigger_of_form)):
        try:
            found[key] = read(form)
        except FormError as error:
            errors.update(error.errors)
    if errors:
        raise FormError(errors)
    return found


def _signed(form: Mapping[str, str], name: str, errors: dict[str, str]) -> int | None:
    text = str(form.get(name, "")).strip() or "0"
    if not re.fullmatch(r"-?\d{1,3}", text):
        errors[name] = "Enter a number of days, such as 0, 7 or -3 (before the date)."
        return None
    return int(text)


def form_of_trigger(trigger: Mapping[str, Any]) -> dict[str, str]:
    values = {name: "" if value is None else str(value) for name, value in trigger.items() if name != "kind"}
    values["trigger_kind"] = str(trigger.get("kind") or "")
    values["time"] = clock_text(trigger.get("minute_of_day"))
    return values


def settings_of_form(form: Mapping[str, str]) -> dict[str, Any]:
    """The flow's settings from its form; FormError names each field typed wrong."""
    errors: dict[str, str] = {}
    enrolment = choice(form, "enrolment", ("once", "every"), errors, "Choose once or every time.")
    gap = whole_number(form, "min_gap_hours", errors, low=0, high=100_000) \
        if str(form.get("min_gap_hours", "")).strip() else 0
    exit_on: list[Any] = [name for name in ("unsubscribed", "converted") if form.get(f"exit_{name}")]
    segment = _optional_id(form, "exit_segment_id", errors)
    if segment:
        exit_on.append({"segment_id": segment})
    goal = str(form.get("goal_event", "")).strip()
    if goal:
        event_name(form, "goal_event", errors)
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
    days = whole_number(form, "days", errors, low=0, high=3650)
    list_id = whole_number(form, "list_id", errors, low=1, high=2**31 - 1)
    if "list_id" in errors:
        errors["list_id"] = "Choose a list."
    try:
        send = params_of_form("send", form)
    except FormError as error:
        errors.update(error.errors)
        send = {}
    try:
        flows.checked_name(form)
    except FormError as error:
        errors.update(error.errors)
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
