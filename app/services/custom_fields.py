"""Custom fields of a list: definitions, ordering, and validating subscriber values against them."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlparse

from app.db.audience import ListField
from app.services.accounts import now
from app.services.lists import ListError
from app.services.tenancy import checked_workspace_id, owned_by

KINDS = ("text", "textarea", "number", "date", "dropdown", "checkbox", "phone", "url")
# Tags the renderer and forms use for built-in values; a custom field may not shadow them.
RESERVED_TAGS = frozenset({"email", "status", "list", "subscriber", "unsubscribe_url", "web_version_url",
                           "physical_address", "fields", "id", "tags"})
TAG_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
PHONE_PATTERN = re.compile(r"^\+?[0-9 ()./-]{5,32}$")


def tag_from_label(label: str) -> str:
    tag = re.sub(r"[^a-z0-9]+", "_", label.lower()).strip("_")
    if not tag or not tag[0].isalpha():
        tag = f"field_{tag}".rstrip("_")
    return tag[:64]


def _options(raw: object) -> list[str]:
    text = str(raw or "")
    return [option.strip() for option in re.split(r"[\n,]", text) if option.strip()]


def cleaned_field_values(raw: dict[str, Any]) -> dict[str, Any]:
    label = str(raw.get("label", "")).strip()
    tag = str(raw.get("tag", "")).strip().lower() or tag_from_label(label)
    kind = str(raw.get("kind", "text"))
    values = {
        "label": label, "tag": tag, "kind": kind,
        "required": raw.get("required") in ("on", "true", True, "1"),
        "visible": raw.get("visible", "on") in ("on", "true", True, "1"),
        "default_value": str(raw.get("default_value", "")).strip(),
        "options": _options(raw.get("options")) if kind == "dropdown" else [],
    }
    errors: dict[str, str] = {}
    if not label:
        errors["label"] = "Give the field a label."
    if not TAG_PATTERN.match(tag):
        errors["tag"] = "Use lower-case letters, digits and underscores, starting with a letter."
    elif tag in RESERVED_TAGS:
        errors["tag"] = f"“{tag}” is reserved; choose another merge tag."
    if kind not in KINDS:
        errors["kind"] = "Choose a field type."
    if kind == "dropdown" and not values["options"]:
        errors["options"] = "A dropdown needs at least one option."
    if values["default_value"] and not errors:
        problem = value_problem(values, values["default_value"])
        if problem:
            errors["default_value"] = problem
    if errors:
        raise ListError(errors)
    return values


async def fields_of(workspace_id: int, list_id: int) -> list[dict]:
    return await ListField.select().where(owned_by(ListField, workspace_id), ListField.list_id == list_id).order_by(
        ListField.position
    ).order_by(ListField.id).output(load_json=True)


async def add_field(workspace_id: int, list_id: int, raw: dict[str, Any]) -> dict:
    values = cleaned_field_values(raw)
    if await ListField.exists().where(owned_by(ListField, workspace_id), ListField.list_id == list_id,
                                      ListField.tag == values["tag"]):
        raise ListError({"tag": "Another field of this list uses this merge tag."})
    last = await ListField.select(ListField.position).where(ListField.list_id == list_id).order_by(
        ListField.position, ascending=False
    ).first()
    rows = await ListField.insert(
        ListField(workspace_id=checked_workspace_id(workspace_id), list_id=list_id,
                  position=(last["position"] + 1) if last else 0, created_at=now(), **values)
    ).returning(*ListField.all_columns())
    return rows[0]


async def update_field(workspace_id: int, field_id: int, raw: dict[str, Any]) -> dict:
    current = await ListField.select().where(owned_by(ListField, workspace_id), ListField.id == field_id).first()
    if current is None:
        raise LookupError("field")
    # The merge tag is the key in every subscriber's JSON; renaming it would orphan their values.
    values = cleaned_field_values({**raw, "tag": current["tag"]})
    rows = await ListField.update(values).where(ListField.id == field_id).returning(*ListField.all_columns())
    return rows[0]


async def delete_field(workspace_id: int, field_id: int) -> dict:
    rows = await ListField.delete().where(owned_by(ListField, workspace_id), ListField.id == field_id).returning(
        ListField.id, ListField.list_id, ListField.tag
    )
    if not rows:
        raise LookupError("field")
    return rows[0]


async def move_field(workspace_id: int, field_id: int, direction: int) -> int:
    """Swap a field with its neighbour (direction -1 up, +1 down); returns the list id."""
    current = await ListField.select().where(owned_by(ListField, workspace_id), ListField.id == field_id).first()
    if current is None:
        raise LookupError("field")
    ordered = await fields_of(workspace_id, current["list_id"])
    index = next(i for i, field in enumerate(ordered) if field["id"] == field_id)
    other = index + (1 if direction > 0 else -1)
    if 0 <= other < len(ordered):
        ordered[index], ordered[other] = ordered[other], ordered[index]
    async with ListField._meta.db.transaction():
        for position, field in enumerate(ordered):
            if field["position"] != position:
                await ListField.update({ListField.position: position}).where(ListField.id == field["id"])
    return current["list_id"]


def value_problem(field: dict[str, Any], value: str) -> str | None:
    """Why `value` does not fit the field, or None."""
    kind = field["kind"]
    if kind == "number":
        try:
            Decimal(value)
        except InvalidOperation:
            return "Enter a number."
    elif kind == "date":
        try:
            date.fromisoformat(value)
        except ValueError:
            return "Enter a date as YYYY-MM-DD."
    elif kind == "dropdown" and value not in field["options"]:
        return "Choose one of the options."
    elif kind == "checkbox" and value not in ("true", "false"):
        return "Use true or false."
    elif kind == "phone" and not PHONE_PATTERN.match(value):
        return "Enter a phone number."
    elif kind == "url":
        parsed = urlparse(value)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            return "Enter a web address starting with http:// or https://."
    elif len(value) > 2000:
        return "Use at most 2,000 characters."
    return None


def cleaned_subscriber_fields(fields: list[dict], raw: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """Values by merge tag for a subscriber, typed for the JSONB column, and errors by form field name."""
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for field in fields:
        name = f"field_{field['tag']}"
        if field["kind"] == "checkbox":
            text = "true" if raw.get(name) in ("on", "true", True, "1") else "false"
        else:
            text = str(raw.get(name, "") or "").strip() or field["default_value"]
        if not text:
            if field["required"]:
                errors[name] = f"{field['label']} is required."
            continue
        problem = value_problem(field, text)
        if problem:
            errors[name] = problem
        elif field["kind"] == "number":
            number = Decimal(text)
            values[field["tag"]] = int(number) if number == number.to_integral_value() else float(number)
        elif field["kind"] == "checkbox":
            values[field["tag"]] = text == "true"
        else:
            values[field["tag"]] = text
    return values, errors
