"""Checking a condition tree against a workspace, with a clear message per rule, and normalising it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from app.services.forms import FormError
from app.services.lists import STATUSES
from app.services.segments.values import as_day, as_integer, as_text, field_value
from app.services.segments.vocabulary import (
    MATCHES,
    MAX_GROUP_DEPTH,
    MAX_RULES,
    NO_VALUE_OPS,
    RULE_KINDS,
    is_group,
    ops_for,
)
from app.services.sqlparams import Params, fetch
from app.services.tenancy import checked_workspace_id

MAX_DAYS = 36500
SMALLINT = (-32768, 32767)


def path_key(path: Sequence[int]) -> str:
    """"r" is the root group, "r.1.0" the first rule of the root's second entry; also the builder's form names."""
    return ".".join(["r", *map(str, path)])


@dataclass(frozen=True)
class Problem:
    path: tuple[int, ...]
    message: str
    # Set for problems of the segment itself ("name", "list_ids") rather than of a rule.
    field: str = ""

    @property
    def key(self) -> str:
        return self.field or path_key(self.path)


class SegmentError(FormError):
    """A definition that cannot be counted or saved; `path` is where the first problem is."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__({p.key: p.message for p in problems})
        self.problems = problems

    @property
    def path(self) -> tuple[int, ...]:
        return self.problems[0].path


@dataclass(frozen=True)
class Context:
    """What a workspace offers to conditions: its lists, the fields of the chosen lists, its tags."""

    lists: list[dict]
    list_ids: tuple[int, ...]
    fields: dict[str, dict]
    tags: tuple[str, ...]

    @property
    def field_kinds(self) -> dict[str, str]:
        return {tag: field["kind"] for tag, field in self.fields.items()}


def chosen_list_ids(raw: object) -> list[int]:
    if raw in (None, ""):
        return []
    values = raw if isinstance(raw, list | tuple) else [raw]
    try:
        return sorted({int(value) for value in values})
    except (TypeError, ValueError) as exc:
        raise SegmentError([Problem((), "Choose lists from the list.", "list_ids")]) from exc


async def load_context(workspace_id: int, list_ids: Sequence[int]) -> Context:
    """No lists chosen means every list that is not archived."""
    workspace_id = checked_workspace_id(workspace_id)
    params = Params()
    lists = await fetch(
        f"SELECT id, name, archived_at FROM lists WHERE workspace_id = {params.add(workspace_id)} ORDER BY name", params
    )
    known = {row["id"] for row in lists}
    if any(list_id not in known for list_id in list_ids):
        raise SegmentError([Problem((), "Choose lists of this workspace.", "list_ids")])
    effective = tuple(list_ids) or tuple(row["id"] for row in lists if row["archived_at"] is None)
    params = Params()
    fields = await fetch(
        f"SELECT DISTINCT ON (tag) tag, label, kind FROM list_fields WHERE workspace_id = {params.add(workspace_id)} "
        f"AND list_id = ANY({params.add(list(effective))}) ORDER BY tag, position, id",
        params,
    )
    params = Params()
    tags = await fetch(f"SELECT name FROM tags WHERE workspace_id = {params.add(workspace_id)} ORDER BY name", params)
    return Context(lists=lists, list_ids=effective, fields={row["tag"]: row for row in fields},
                   tags=tuple(row["name"] for row in tags))


def _rule(rule: dict, context: Context) -> dict:
    """The rule with typed, trimmed values; ValueError says what is wrong with it."""
    kind = str(rule.get("kind", ""))
    if kind not in RULE_KINDS:
        raise ValueError(f"Unknown condition type “{kind}”.")
    clean: dict[str, Any] = {"kind": kind}
    if kind == "field":
        tag = str(rule.get("field", "")).strip().lower()
        if tag not in context.fields:
            raise ValueError(f"No custom field “{tag}” on the chosen lists." if tag else "Choose a custom field.")
        clean["field"] = tag
    op = str(rule.get("op", ""))
    allowed = ops_for(clean, context.field_kinds)
    if op not in allowed:
        label = context.fields[clean["field"]]["label"] if kind == "field" else RULE_KINDS[kind]
        raise ValueError(f"“{op}” is not an operator for {label}; choose one of: {', '.join(allowed.values())}."
                         if op else "Choose an operator.")
    clean["op"] = op
    value = rule.get("value")
    if op in NO_VALUE_OPS:
        return clean
    if kind == "field":
        clean["value"] = field_value(op, context.fields[clean["field"]]["kind"], value)
    elif kind == "status":
        if value not in STATUSES:
            raise ValueError("Choose a status.")
        clean["value"] = value
    elif kind == "tag":
        if str(value or "") not in context.tags:
            raise ValueError(f"No tag “{value}” in this workspace." if value else "Choose a tag.")
        clean["value"] = str(value)
    elif kind == "list":
        if not str(value or "").isdigit() or int(str(value)) not in {row["id"] for row in context.lists}:
            raise ValueError("Choose a list of this workspace.")
        clean["value"] = int(str(value))
    elif kind == "campaign":
        clean["value"] = as_integer(value, 1, 2**63 - 1, "the campaign id")
    elif kind == "engagement":
        bounds = {key: as_integer(rule[key], *SMALLINT, "score points") for key in ("min", "max")
                  if str(rule.get(key, "")).strip()}
        if not bounds:
            raise ValueError("Enter a lowest score, a highest score, or both.")
        if len(bounds) == 2 and bounds["min"] > bounds["max"]:
            raise ValueError("The lowest score is above the highest.")
        clean.update(bounds)
    elif op in ("before", "after"):
        clean["value"] = as_day(as_text(value))
    else:
        clean["value"] = as_integer(value, 1, MAX_DAYS, "days")
    return clean


def _node(node: object, path: tuple[int, ...], context: Context, problems: list[Problem], counter: list[int]) -> dict:
    if not isinstance(node, dict):
        problems.append(Problem(path, "Not a condition."))
        return {}
    if not is_group(node):
        counter[0] += 1
        try:
            return _rule(node, context)
        except ValueError as exc:
            problems.append(Problem(path, str(exc)))
            return {}
    if len(path) > MAX_GROUP_DEPTH:
        problems.append(Problem(path, f"Groups nest at most {MAX_GROUP_DEPTH} levels deep."))
        return {}
    match = node.get("match")
    if match not in MATCHES:
        problems.append(Problem(path, "Choose whether all or any of the conditions must match."))
    rules = node.get("rules", [])
    if not isinstance(rules, list):
        problems.append(Problem(path, "A group holds a list of conditions."))
        rules = []
    children = [_node(child, (*path, index), context, problems, counter) for index, child in enumerate(rules)]
    return {"match": match, "rules": children}


def validated(conditions: object, context: Context) -> dict:
    """The normalised tree; SegmentError lists every problem with the path of its rule."""
    if conditions is None:
        conditions = {"match": "all", "rules": []}
    if not is_group(conditions):
        raise SegmentError([Problem((), "The conditions must be a group with “match” and “rules”.")])
    problems: list[Problem] = []
    counter = [0]
    tree = _node(conditions, (), context, problems, counter)
    if counter[0] > MAX_RULES:
        problems.append(Problem((), f"Use at most {MAX_RULES} conditions."))
    if problems:
        raise SegmentError(problems)
    return tree


async def checked(workspace_id: int, definition: Mapping[str, Any]) -> tuple[Context, dict]:
    """The workspace context and the normalised tree of a definition ({"list_ids": [...], "conditions": {...}})."""
    context = await load_context(workspace_id, chosen_list_ids(definition.get("list_ids")))
    return context, validated(definition.get("conditions"), context)
