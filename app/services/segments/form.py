"""The builder's form and the tree, both ways: flat field names like "r.1.0.op" become nested groups.

Every node is named by its path ("r" is the root group, "r.1.0" the first
entry of the root's second entry), so the browser needs no script to keep
the tree: the server rebuilds it from the names on every request.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from app.services.segments.validation import Context
from app.services.segments.vocabulary import MATCHES, MAX_GROUP_DEPTH, RULE_KINDS, is_group, ops_for

NODE_FIELD = re.compile(r"^r((?:\.\d{1,3})*)\.(match|kind|op|field|value|min|max)$")


def parse_key(key: str) -> tuple[int, ...] | None:
    """(1, 0) for "r.1.0"; None for anything that is not a node name."""
    match = re.fullmatch(r"r((?:\.\d{1,3})*)", key)
    return tuple(int(part) for part in match.group(1).split(".")[1:]) if match else None


def dom_id(key: str) -> str:
    return key.replace(".", "-")


def _build(path: tuple[int, ...], nodes: dict[tuple[int, ...], dict]) -> dict:
    attrs = nodes.get(path, {})
    depth = len(path)
    children = sorted({p[depth] for p in nodes if len(p) > depth and p[:depth] == path})
    if path and "match" not in attrs and not children:
        return dict(attrs)
    match = attrs.get("match") if attrs.get("match") in MATCHES else "all"
    return {"match": match, "rules": [_build((*path, index), nodes) for index in children]}


def tree_from_form(form: Mapping[str, Any]) -> dict:
    nodes: dict[tuple[int, ...], dict] = {(): {}}
    for name, value in form.items():
        found = NODE_FIELD.match(name)
        if found:
            path = tuple(int(part) for part in found.group(1).split(".")[1:])
            nodes.setdefault(path, {})[found.group(2)] = value
    return _build((), nodes)


def definition_from_form(form: Mapping[str, Any], list_ids: Sequence[str]) -> dict[str, Any]:
    return {"name": str(form.get("name", "")), "description": str(form.get("description", "")),
            "list_ids": list(list_ids), "conditions": tree_from_form(form)}


def node_keys(node: dict, key: str = "r") -> list[str]:
    """The names of every node of the tree, the root first."""
    keys = [key]
    for index, child in enumerate(node.get("rules", []) if is_group(node) else []):
        keys += node_keys(child, f"{key}.{index}")
    return keys


def new_rule(context: Context) -> dict:
    if context.fields:
        return {"kind": "field", "field": next(iter(context.fields)), "op": "equals", "value": ""}
    return {"kind": "last_open", "op": "within_days", "value": "30"}


def _group_at(tree: dict, path: tuple[int, ...]) -> dict | None:
    node = tree
    for index in path:
        rules = node.get("rules", [])
        if index >= len(rules):
            return None
        node = rules[index]
    return node if is_group(node) else None


def apply_action(tree: dict, action: str, context: Context) -> dict:
    """Adds a rule or group to the group named in the action ("add_rule:r.1"), or removes a node ("remove:r.0")."""
    verb, _, key = action.partition(":")
    path = parse_key(key)
    if path is None:
        return tree
    if verb in ("add_rule", "add_group"):
        group = _group_at(tree, path)
        if group is not None and verb == "add_rule":
            group["rules"].append(new_rule(context))
        elif group is not None and len(path) < MAX_GROUP_DEPTH:
            group["rules"].append({"match": "all", "rules": [new_rule(context)]})
    elif verb == "remove" and path:
        parent = _group_at(tree, path[:-1])
        if parent is not None and path[-1] < len(parent["rules"]):
            del parent["rules"][path[-1]]
    return tree


def fitted(node: dict, context: Context) -> dict:
    """After the type or field of a rule changed, an operator and field that fit it, so the form stays coherent."""
    if is_group(node):
        return {**node, "rules": [fitted(child, context) for child in node["rules"]]}
    rule = dict(node)
    if rule.get("kind") not in RULE_KINDS or (rule["kind"] == "field" and not context.fields):
        rule = new_rule(context)
    if rule["kind"] == "field" and rule.get("field") not in context.fields:
        rule["field"] = next(iter(context.fields))
    ops = ops_for(rule, context.field_kinds)
    if rule.get("op") not in ops:
        # A new type of rule: start it from a value its inputs can show, not the previous type's.
        rule = {key: rule[key] for key in ("kind", "field") if key in rule}
        rule["op"] = next(iter(ops))
        rule.update(_starting_values(rule["kind"], context))
    return rule


def _starting_values(kind: str, context: Context) -> dict[str, str]:
    if kind == "status":
        return {"value": "confirmed"}
    if kind == "tag":
        return {"value": context.tags[0] if context.tags else ""}
    if kind == "list":
        return {"value": str(context.lists[0]["id"]) if context.lists else ""}
    if kind in ("subscribed", "last_open", "last_click"):
        return {"value": "30"}
    if kind == "engagement":
        return {"min": "50"}
    return {"value": ""}
