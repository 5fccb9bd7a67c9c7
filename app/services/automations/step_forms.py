"""A flow step's form read into its params and back: each field typed wrong is named (FormError), so the editor
shows the message beside it. The flow's own check (`definition`) runs when the steps are saved."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from app.services.forms import FormError

WAIT_MODES = {"duration": "For a while", "time_of_day": "Until a time of day", "weekday": "Until a weekday",
              "event": "Until something happens"}
UNITS = {"minutes": 1, "hours": 60, "days": 1440}
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
EVENTS = ("opened", "clicked", "converted", "subscribed", "confirmed")
TESTS = {"segment": "Is in a segment", "event": "Did something", "field": "Has a field value"}
FIELD_OPS = {"eq": "is", "neq": "is not", "contains": "contains", "empty": "is empty", "not_empty": "is not empty"}
EVENT_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_.:-]{0,63}$")
TAG = re.compile(r"^[A-Za-z0-9_]{1,64}$")


def whole_number(form: Mapping[str, str], name: str, errors: dict[str, str], *, low: int = 0,
                 high: int = 10_000_000) -> int | None:
    text = str(form.get(name, "")).strip()
    if not text.isdigit() or not low <= int(text) <= high:
        errors[name] = f"Enter a whole number from {low:,} to {high:,}."
        return None
    return int(text)


def duration(form: Mapping[str, str], amount: str, unit: str, errors: dict[str, str]) -> int | None:
    count = whole_number(form, amount, errors, low=1, high=100_000)
    if str(form.get(unit, "")) not in UNITS:
        errors[unit] = "Choose minutes, hours or days."
        return None
    return None if count is None else count * UNITS[str(form[unit])]


def clock(form: Mapping[str, str], name: str, errors: dict[str, str]) -> int | None:
    match = re.fullmatch(r"(\d{1,2}):(\d{2})", str(form.get(name, "")).strip())
    if not match or int(match[1]) > 23 or int(match[2]) > 59:
        errors[name] = "Enter a time such as 09:30."
        return None
    return int(match[1]) * 60 + int(match[2])


def event_name(form: Mapping[str, str], name: str, errors: dict[str, str]) -> str:
    event = str(form.get(name, "")).strip()
    if not EVENT_NAME.match(event):
        errors[name] = "Enter an event name such as opened or viewed_offer (letters, digits, _ . : -)."
    return event


def choice(form: Mapping[str, str], name: str, choices: Mapping[str, str] | tuple, errors: dict[str, str],
           message: str) -> str:
    value = str(form.get(name, ""))
    if value not in choices:
        errors[name] = message
    return value


def _wait(form: Mapping[str, str], errors: dict[str, str]) -> dict[str, Any]:
    mode = choice(form, "mode", WAIT_MODES, errors, "Choose how long to wait.")
    if mode == "duration":
        return {"mode": mode, "minutes": duration(form, "amount", "unit", errors)}
    if mode == "time_of_day":
        return {"mode": mode, "minute_of_day": clock(form, "time", errors)}
    if mode == "weekday":
        day = whole_number(form, "weekday", errors, low=0, high=6)
        return {"mode": mode, "weekday": day, "minute_of_day": clock(form, "time", errors)}
    if mode == "event":
        return {"mode": mode, "event": event_name(form, "event", errors),
                "timeout_minutes": duration(form, "timeout_amount", "timeout_unit", errors)}
    return {}


def _email(text: str) -> bool:
    return bool(re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", text))


def _send(form: Mapping[str, str], errors: dict[str, str]) -> dict[str, Any]:
    params: dict[str, Any] = {"template_id": whole_number(form, "template_id", errors, low=1, high=2**31 - 1)}
    if "template_id" in errors:
        errors["template_id"] = "Choose a template."
    for name in ("subject", "from_name", "from_email"):
        params[name] = str(form.get(name, "")).strip()
    if params["from_email"] and not _email(params["from_email"]):
        errors["from_email"] = "Enter an address such as news@example.com, or leave it blank for the template's."
    if str(form.get("template_b", "")).strip():
        b_id = whole_number(form, "template_b", errors, low=1, high=2**31 - 1)
        share = whole_number(form, "weight_b", errors, low=1, high=99)
        params["variants"] = [
            {"template_id": params["template_id"], "subject": params["subject"], "weight": 100 - (share or 50)},
            {"template_id": b_id, "subject": str(form.get("subject_b", "")).strip() or params["subject"],
             "weight": share}]
    return params


def _condition(form: Mapping[str, str], errors: dict[str, str]) -> dict[str, Any]:
    test = choice(form, "test", TESTS, errors, "Choose what to test.")
    if test == "segment":
        segment = whole_number(form, "segment_id", errors, low=1, high=2**31 - 1)
        if "segment_id" in errors:
            errors["segment_id"] = "Choose a segment."
        return {"test": test, "segment_id": segment}
    if test == "event":
        return {"test": test, "event": event_name(form, "event", errors),
                "within_minutes": duration(form, "within_amount", "within_unit", errors)}
    if test == "field":
        op = choice(form, "op", FIELD_OPS, errors, "Choose how to compare.")
        params = {"test": test, "field": merge_tag(form, "field", errors), "op": op,
                  "value": str(form.get("value", "")).strip()}
        if op in ("eq", "neq", "contains") and not params["value"]:
            errors["value"] = "Enter the value to compare with."
        return params
    return {}


def merge_tag(form: Mapping[str, str], name: str, errors: dict[str, str]) -> str:
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
    return {"field": merge_tag(form, "field", errors), "value": str(form.get("value", "")).strip()}


def _list(form: Mapping[str, str], errors: dict[str, str]) -> dict[str, Any]:
    action = choice(form, "action", ("move", "copy"), errors, "Choose move or copy.")
    list_id = whole_number(form, "list_id", errors, low=1, high=2**31 - 1)
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
    return {"target": target, "limit": whole_number(form, "limit", errors, low=1, high=100)}


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


def clock_text(minute_of_day: int | None) -> str:
    return "" if minute_of_day is None else "{:02d}:{:02d}".format(*divmod(minute_of_day, 60))


def form_of_params(kind: str, params: Mapping[str, Any]) -> dict[str, str]:
    """A step's params as its form shows them (the names `params_of_form` reads)."""
    values = {name: "" if value is None else str(value) for name, value in params.items()
              if not isinstance(value, list | dict)}
    if kind == "wait":
        values["amount"], values["unit"] = _amount_unit(params.get("minutes"))
        values["timeout_amount"], values["timeout_unit"] = _amount_unit(params.get("timeout_minutes"))
        values["time"] = clock_text(params.get("minute_of_day"))
    if kind == "condition":
        values["within_amount"], values["within_unit"] = _amount_unit(params.get("within_minutes"))
    if kind == "tag":
        values["add"], values["remove"] = ", ".join(params.get("add") or ()), ", ".join(params.get("remove") or ())
    if kind == "send" and len(params.get("variants") or ()) > 1:
        second = params["variants"][1]
        values.update(template_b=str(second.get("template_id") or ""), subject_b=str(second.get("subject") or ""),
                      weight_b=str(second.get("weight") or ""))
    return values
