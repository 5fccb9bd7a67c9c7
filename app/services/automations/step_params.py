"""Each step kind's params, checked: what is wrong with them in words a person can act on, or None.

Ids a step names (a template, a segment, a list) must be the workspace's own.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from app.db.audience import MailingList
from app.db.content import EmailTemplate
from app.db.segments import Segment
from app.services.tenancy import owned_by, row_id

FIELD_OPS = ("eq", "neq", "contains", "empty", "not_empty")
EVENT_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_.:-]{0,63}\Z")
FIELD_TAG = re.compile(r"[A-Za-z0-9_]{1,64}\Z")
URL = re.compile(r"https?://[^\s/]+\S*\Z")
MAX_MINUTES = 366 * 1440
MAX_GOTO = 100
MINUTES_PER_DAY = 1440




def whole(value: Any, low: int, high: int) -> int | None:
    """`value` as a whole number within bounds, else None (booleans are not numbers here)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    return value if isinstance(value, int) and low <= value <= high else None


def text(value: Any, limit: int) -> str | None:
    return value.strip() if isinstance(value, str) and len(value.strip()) <= limit else None


async def owned(table: Any, workspace_id: int, value: Any) -> bool:
    pk = row_id(table, value)
    return pk is not None and await table.exists().where(owned_by(table, workspace_id), table.id == pk)


def _wait_problem(params: Mapping[str, Any]) -> str | None:
    mode = params.get("mode")
    if mode == "duration":
        return None if whole(params.get("minutes"), 1, MAX_MINUTES) else "Wait from 1 minute to a year."
    if mode in ("time_of_day", "weekday"):
        if whole(params.get("minute_of_day"), 0, MINUTES_PER_DAY - 1) is None:
            return "Choose a time of day."
        if mode == "weekday" and whole(params.get("weekday"), 0, 6) is None:
            return "Choose a day of the week."
        return None
    if mode == "event":
        if not EVENT_NAME.match(str(params.get("event") or "")):
            return "Name the event to wait for (such as opened or viewed_offer)."
        return None if whole(params.get("timeout_minutes"), 1, MAX_MINUTES) else \
            "Give up waiting after 1 minute to a year."
    return "Choose how long to wait."


async def _send_problem(workspace_id: int, params: Mapping[str, Any]) -> str | None:
    if not await owned(EmailTemplate, workspace_id, params.get("template_id")):
        return "Choose a template."
    for name, limit in (("subject", 255), ("from_name", 120), ("from_email", 320)):
        if params.get(name) is not None and text(params.get(name), limit) is None:
            return f"The {name.replace('_', ' ')} is too long."
    if params.get("from_email") and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", params["from_email"].strip()):
        return "Enter a sender address such as news@example.com, or none for the template's."
    variants = params.get("variants") or []
    if not isinstance(variants, list) or len(variants) == 1 or len(variants) > 10:
        return "An A/B test has from 2 to 10 variants."
    for variant in variants:
        if not isinstance(variant, Mapping) or \
                not await owned(EmailTemplate, workspace_id, variant.get("template_id")):
            return "Choose a template for each variant."
        if whole(variant.get("weight"), 1, 100) is None:
            return "Give each variant a share from 1 to 100."
    return None


async def _condition_problem(workspace_id: int, params: Mapping[str, Any]) -> str | None:
    test = params.get("test")
    if test == "segment":
        return None if await owned(Segment, workspace_id, params.get("segment_id")) else "Choose a segment."
    if test == "event":
        if not EVENT_NAME.match(str(params.get("event") or "")):
            return "Name the event to look for (such as clicked or viewed_offer)."
        return None if whole(params.get("within_minutes"), 1, MAX_MINUTES) else \
            "Look back from 1 minute to a year."
    if test == "field":
        if not FIELD_TAG.match(str(params.get("field") or "")):
            return "Name the field by its merge tag (such as plan)."
        if params.get("op") not in FIELD_OPS:
            return "Choose how to compare the field."
        if params["op"] in ("eq", "neq", "contains") and not text(params.get("value"), 1000):
            return "Enter the value to compare with."
        return None
    return "Choose what to test."


def _tag_problem(params: Mapping[str, Any]) -> str | None:
    add, remove = params.get("add") or [], params.get("remove") or []
    if not isinstance(add, list) or not isinstance(remove, list) or (not add and not remove):
        return "Name at least one tag to add or to remove."
    if any(not isinstance(tag, str) or not tag.strip() or len(tag.strip()) > 64 for tag in [*add, *remove]):
        return "A tag has 1 to 64 characters."
    return None


def _field_problem(params: Mapping[str, Any]) -> str | None:
    if not FIELD_TAG.match(str(params.get("field") or "")):
        return "Name the field by its merge tag (such as plan)."
    return None if text(params.get("value", ""), 1000) is not None else "A value has at most 1,000 characters."


async def _list_problem(workspace_id: int, params: Mapping[str, Any]) -> str | None:
    if params.get("action") not in ("move", "copy"):
        return "Choose move or copy."
    return None if await owned(MailingList, workspace_id, params.get("list_id")) else "Choose a list."


def _goto_problem(params: Mapping[str, Any], ids: set[str]) -> str | None:
    if params.get("target") not in ids:
        return "Choose the step to go to."
    return None if whole(params.get("limit"), 1, MAX_GOTO) else f"Go back from 1 to {MAX_GOTO} times."


async def params_problem(workspace_id: int, step: Mapping[str, Any], ids: set[str]) -> str | None:
    """What is wrong with a step's params, or None."""
    params = step.get("params")
    if not isinstance(params, Mapping):
        return "The step has no settings."
    kind = step["kind"]
    if kind == "wait":
        return _wait_problem(params)
    if kind == "send":
        return await _send_problem(workspace_id, params)
    if kind == "condition":
        return await _condition_problem(workspace_id, params)
    if kind == "tag":
        return _tag_problem(params)
    if kind == "field":
        return _field_problem(params)
    if kind == "list":
        return await _list_problem(workspace_id, params)
    if kind == "webhook":
        return None if URL.match(str(params.get("url") or "")) else "Enter an address starting with https://."
    if kind == "goto":
        return _goto_problem(params, ids)
    return None
