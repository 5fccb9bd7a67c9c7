"""File rules: which files of a source are taken in, as what, into which list, with which columns.

Rules are tried in order; the first whose name pattern (a glob on the file's name, case-insensitive) or header
(every listed column present in the file's first row) matches classifies the file:

- mailable: its addresses are added to the list as subscribers;
- suppression: its addresses go to a suppression list (the blacklist when none is picked);
- warm-up seed: the seed addresses warm-up sends go to, added to the list or updated there.

The import engine suggests a field per column from the header; a rule's columns (`Header = field_tag`, one per
line) map the headers it does not recognise.
"""

from __future__ import annotations

import fnmatch
from typing import Any

from app.db.audience import MailingList
from app.db.intake import IntakeRule
from app.db.suppression import SuppressionList
from app.services.accounts import now
from app.services.custom_fields import fields_of
from app.services.form_input import LARGEST_INTEGER, chosen_id, owned_id
from app.services.forms import FormError
from app.services.imports.mapping import Analysis, header_key
from app.services.tenancy import checked_workspace_id, owned_by

KINDS = {"mailable": "Mailable subscribers", "suppression": "Suppression", "warmup_seed": "Warm-up seed"}
MATCHES = {"name": "File name matches a pattern", "header": "Header has these columns"}
# How each kind of file is imported (the import engine's modes).
MODES = {"mailable": "add", "suppression": "suppress", "warmup_seed": "add_update"}
EMAIL = "email"


class RuleFormError(FormError):
    """A file rule that cannot be saved."""


def header_columns(pattern: str) -> list[str]:
    """The columns a header rule asks for, as comparable keys."""
    return [key for key in (header_key(part) for part in pattern.split(",")) if key]


def matches(rule: dict, filename: str, header: list[str]) -> bool:
    if rule["match"] == "name":
        return fnmatch.fnmatch(filename.rsplit("/", 1)[-1].lower(), rule["pattern"].lower())
    present = {header_key(cell) for cell in header}
    return set(header_columns(rule["pattern"])) <= present


def classify(rules: list[dict], filename: str, header: list[str]) -> dict | None:
    """The first rule (in their order) that takes this file, or None."""
    return next((rule for rule in rules if matches(rule, filename, header)), None)


def column_choices(rule: dict, analysis: Analysis) -> dict[int, str]:
    """Per column the import's target ("email", "field:<tag>" or ""): the engine's suggestions, then the rule's
    own columns, each target kept on one column only."""
    choices = {column.index: column.suggestion for column in analysis.columns}
    for column in analysis.columns:
        tag = rule["columns"].get(header_key(column.name))
        if tag:
            target = "email" if tag == EMAIL else f"field:{tag}"
            choices = {index: ("" if chosen == target else chosen) for index, chosen in choices.items()}
            choices[column.index] = target
    return choices


def _parsed_columns(text: str, tags: set[str], errors: dict[str, str]) -> dict[str, str]:
    columns: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        header, equals, tag = line.partition("=")
        header, tag = header.strip(), tag.strip()
        # The first wrong line is named: the one to fix first, reading down.
        if not equals or not header_key(header) or not tag:
            errors.setdefault("columns", f"Line {number}: write one column per line as Header = field_tag.")
        elif tag != EMAIL and tag not in tags:
            errors.setdefault("columns",
                              f"Line {number}: the list has no field “{tag}” (use email or a field's merge tag).")
        else:
            columns[header_key(header)] = tag
    return columns


def columns_text(columns: dict[str, str]) -> str:
    return "\n".join(f"{header} = {tag}" for header, tag in columns.items())


async def cleaned_values(workspace_id: int, raw: dict[str, Any]) -> dict[str, Any]:
    errors: dict[str, str] = {}
    match = str(raw.get("match", "") or "name")
    kind = str(raw.get("kind", "") or "mailable")
    if match not in MATCHES:
        errors["match"] = "Choose how the rule recognises its files."
    if kind not in KINDS:
        errors["kind"] = "Choose what the files are."
    pattern = str(raw.get("pattern", "") or "").strip()
    if not pattern or len(pattern) > 500:
        errors["pattern"] = "Give a pattern such as daily-*.csv, or the header's columns, e.g. email, first_name."
    elif match == "header" and not header_columns(pattern):
        errors["pattern"] = "List the header's columns, separated by commas, e.g. email, first_name."
    list_id = chosen_id(raw.get("list_id"), "list_id", RuleFormError, "Choose a list.")
    if list_id is None:
        errors["list_id"] = "Choose the list the files' imports belong to."
    suppression_list_id = chosen_id(raw.get("suppression_list_id"), "suppression_list_id", RuleFormError,
                                    "Choose a suppression list.")
    await owned_id(MailingList, workspace_id, list_id)
    await owned_id(SuppressionList, workspace_id, suppression_list_id)
    tags = {field["tag"] for field in await fields_of(workspace_id, list_id)} if list_id else set()
    columns = _parsed_columns(str(raw.get("columns", "") or ""), tags, errors)
    if errors:
        raise RuleFormError(errors)
    return {"match": match, "kind": kind, "pattern": pattern, "list_id": list_id, "columns": columns,
            "suppression_list_id": suppression_list_id if kind == "suppression" else None}


def form_of(row: dict) -> dict[str, Any]:
    return {"match": row["match"], "kind": row["kind"], "pattern": row["pattern"], "list_id": str(row["list_id"]),
            "suppression_list_id": str(row["suppression_list_id"] or ""), "columns": columns_text(row["columns"])}


async def rules_of(workspace_id: int, source_id: int) -> list[dict]:
    return await IntakeRule.select().where(owned_by(IntakeRule, workspace_id), IntakeRule.source_id == source_id
                                           ).order_by(IntakeRule.position).order_by(IntakeRule.id).output(
        load_json=True)


async def get_rule(workspace_id: int, rule_id: int) -> dict:
    row = None
    if 0 < rule_id <= LARGEST_INTEGER:
        row = await IntakeRule.select().where(owned_by(IntakeRule, workspace_id), IntakeRule.id == rule_id
                                              ).output(load_json=True).first()
    if row is None:
        raise LookupError("file rule")
    return row


async def create_rule(workspace_id: int, source_id: int, raw: dict[str, Any]) -> dict:
    """A rule appended after the source's others (the caller has checked the source is the workspace's)."""
    values = await cleaned_values(workspace_id, raw)
    last = await IntakeRule.select(IntakeRule.position).where(
        owned_by(IntakeRule, workspace_id), IntakeRule.source_id == source_id
    ).order_by(IntakeRule.position, ascending=False).first()
    rows = await IntakeRule.insert(IntakeRule(
        workspace_id=checked_workspace_id(workspace_id), source_id=source_id, created_at=now(),
        position=(last["position"] + 1) if last else 0, **values,
    )).returning(*IntakeRule.all_columns())
    return rows[0]


async def update_rule(workspace_id: int, rule_id: int, raw: dict[str, Any]) -> dict:
    await get_rule(workspace_id, rule_id)
    values = await cleaned_values(workspace_id, raw)
    rows = await IntakeRule.update(values).where(owned_by(IntakeRule, workspace_id), IntakeRule.id == rule_id
                                                 ).returning(*IntakeRule.all_columns())
    return rows[0]


async def delete_rule(workspace_id: int, rule_id: int) -> dict:
    rows = await IntakeRule.delete().where(owned_by(IntakeRule, workspace_id), IntakeRule.id == rule_id
                                           ).returning(IntakeRule.source_id, IntakeRule.pattern)
    if not rows:
        raise LookupError("file rule")
    return rows[0]
