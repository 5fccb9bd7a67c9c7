"""A workspace's bounce rules: ordered regular expressions over a report's diagnostic text, tried before the
built-in ones, that decide the category (and, for a report without one, the status).

Positions are kept dense (1, 2, 3 ...): a new rule goes last, moving one swaps it with its neighbour, and
deleting one closes the gap. Every change is held to the workspace; an id of another one is a LookupError.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from app.piccolo_conf import DB
from app.services.bounces.default_rules import DEFAULT_RULES, MTA_RULES
from app.services.bounces.model import CATEGORIES, Rule
from app.services.forms import FormError
from app.services.sqlparams import fetch_positional
from app.services.tenancy import checked_workspace_id

MAX_NAME = 80
MAX_PATTERN = 2000
STATUS = re.compile(r"[245]\.\d{1,3}\.\d{1,3}\Z")
CATEGORY_WORDS = {"hard": "Hard bounce", "soft": "Soft bounce", "block": "Block (policy, spam, reputation)",
                  "complaint": "Complaint", "autoreply": "Auto-reply (ignored)",
                  "delivered": "Delivery report (ignored)", "unknown": "Unknown (kept for review)"}
_COLUMNS = "id, position, name, pattern, category, status, enabled, updated_at"


class RuleError(FormError):
    """A rule that cannot be saved, by form field name."""


def checked_rule(form: Mapping[str, Any]) -> dict[str, str]:
    """The rule's values, or a RuleError naming each field that is wrong."""
    values = {key: str(form.get(key) or "").strip() for key in ("name", "pattern", "category", "status")}
    errors = {}
    if not values["name"]:
        errors["name"] = "Give the rule a name, e.g. “Our relay: mailbox full”."
    elif len(values["name"]) > MAX_NAME:
        errors["name"] = f"Keep the name under {MAX_NAME} characters."
    if not values["pattern"]:
        errors["pattern"] = "Type a regular expression found in the bounce's text, e.g. mailbox (is )?full."
    elif len(values["pattern"]) > MAX_PATTERN:
        errors["pattern"] = f"Keep the pattern under {MAX_PATTERN} characters."
    elif problem := _regex_problem(values["pattern"]):
        errors["pattern"] = f"This is not a valid regular expression: {problem}."
    if values["category"] not in CATEGORIES:
        errors["category"] = "Choose what a matching bounce is."
    if values["status"] and not STATUS.match(values["status"]):
        errors["status"] = "A status looks like 5.1.1 or 4.2.2; leave it empty to keep the report's own."
    if errors:
        raise RuleError(errors)
    return values


def _regex_problem(pattern: str) -> str:
    """What is wrong with the pattern as the classifier compiles it ("" when nothing)."""
    try:
        re.compile(pattern, re.IGNORECASE)
    except re.error as error:
        return str(error)
    return ""


async def workspace_rules(workspace_id: int) -> list[dict]:
    """Every rule of the workspace in the order they are tried."""
    return await fetch_positional(
        f"SELECT {_COLUMNS} FROM bounce_rules WHERE workspace_id = $1 ORDER BY position, id",
        [checked_workspace_id(workspace_id)])


async def rule_of(workspace_id: int, rule_id: int) -> dict:
    rows = await fetch_positional(f"SELECT {_COLUMNS} FROM bounce_rules WHERE workspace_id = $1 AND id = $2",
                                  [checked_workspace_id(workspace_id), rule_id])
    if not rows:
        raise LookupError(rule_id)
    return rows[0]


async def _name_free(workspace_id: int, name: str, except_id: int | None = None) -> None:
    rows = await fetch_positional(
        "SELECT 1 FROM bounce_rules WHERE workspace_id = $1 AND lower(name) = lower($2) AND id <> $3",
        [workspace_id, name, except_id or 0])
    if rows:
        raise RuleError({"name": "Another rule has this name."})


async def create_rule(workspace_id: int, form: Mapping[str, Any]) -> dict:
    """A new enabled rule, tried after the workspace's others."""
    values = checked_rule(form)
    await _name_free(workspace_id, values["name"])
    [row] = await fetch_positional(
        "INSERT INTO bounce_rules (workspace_id, position, name, pattern, category, status) "
        "SELECT $1, coalesce(max(position), 0) + 1, $2, $3, $4, $5 FROM bounce_rules WHERE workspace_id = $1 "
        f"RETURNING {_COLUMNS}",
        [checked_workspace_id(workspace_id), values["name"], values["pattern"], values["category"], values["status"]])
    return row


async def update_rule(workspace_id: int, rule_id: int, form: Mapping[str, Any]) -> dict:
    await rule_of(workspace_id, rule_id)
    values = checked_rule(form)
    await _name_free(workspace_id, values["name"], rule_id)
    [row] = await fetch_positional(
        "UPDATE bounce_rules SET name = $3, pattern = $4, category = $5, status = $6, updated_at = now() "
        f"WHERE workspace_id = $1 AND id = $2 RETURNING {_COLUMNS}",
        [workspace_id, rule_id, values["name"], values["pattern"], values["category"], values["status"]])
    return row


async def set_enabled(workspace_id: int, rule_id: int, enabled: bool) -> dict:
    await rule_of(workspace_id, rule_id)
    [row] = await fetch_positional(
        f"UPDATE bounce_rules SET enabled = $3, updated_at = now() WHERE workspace_id = $1 AND id = $2 "
        f"RETURNING {_COLUMNS}", [workspace_id, rule_id, enabled])
    return row


async def move_rule(workspace_id: int, rule_id: int, up: bool) -> None:
    """Swap the rule with the one tried just before it (`up`) or just after it; at an end nothing moves."""
    async with DB.transaction():
        ordered = [row["id"] for row in await fetch_positional(
            "SELECT id FROM bounce_rules WHERE workspace_id = $1 ORDER BY position, id FOR UPDATE",
            [checked_workspace_id(workspace_id)])]
        if rule_id not in ordered:
            raise LookupError(rule_id)
        at = ordered.index(rule_id)
        other = at - 1 if up else at + 1
        if not 0 <= other < len(ordered):
            return
        ordered[at], ordered[other] = ordered[other], ordered[at]
        await _renumber(workspace_id, ordered)


async def _renumber(workspace_id: int, ordered: list[int]) -> None:
    await fetch_positional(
        "UPDATE bounce_rules r SET position = o.position FROM unnest($2::int[]) WITH ORDINALITY AS o(id, position) "
        "WHERE r.workspace_id = $1 AND r.id = o.id", [workspace_id, ordered])


async def delete_rule(workspace_id: int, rule_id: int) -> dict:
    async with DB.transaction():
        found = await rule_of(workspace_id, rule_id)
        await fetch_positional("DELETE FROM bounce_rules WHERE workspace_id = $1 AND id = $2", [workspace_id, rule_id])
        rest = await workspace_rules(workspace_id)
        await _renumber(workspace_id, [row["id"] for row in rest])
    return found


@dataclass(frozen=True)
class BuiltInRule:
    rule: Rule
    # Whether it holds the wording of particular mail servers (tried first) or wording any server uses.
    specific: bool


def built_in_rules() -> list[BuiltInRule]:
    """The rules every workspace has after its own, in the order they are tried; read-only."""
    return [BuiltInRule(rule, position < len(MTA_RULES)) for position, rule in enumerate(DEFAULT_RULES)]
