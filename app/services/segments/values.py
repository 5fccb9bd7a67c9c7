"""Turning what a rule's inputs hold into typed, trimmed values; ValueError says what is wrong."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from app.services.segments.vocabulary import DATE_OPS, MAX_VALUES, NUMBER_OPS

MAX_TEXT = 500


def as_text(raw: object) -> str:
    text = str(raw if raw is not None else "").strip()
    if not text:
        raise ValueError("Enter a value.")
    if len(text) > MAX_TEXT:
        raise ValueError(f"Use at most {MAX_TEXT} characters.")
    return text


def as_number(raw: object) -> str:
    """The number as canonical text, so the stored tree stays JSON and exact."""
    try:
        number = Decimal(str(raw).strip())
    except InvalidOperation as exc:
        raise ValueError(f"“{raw}” is not a number.") from exc
    if not number.is_finite():
        raise ValueError(f"“{raw}” is not a number.")
    return str(number)


def as_day(raw: object) -> str:
    try:
        return date.fromisoformat(str(raw).strip()).isoformat()
    except ValueError as exc:
        raise ValueError(f"“{raw}” is not a date; use YYYY-MM-DD.") from exc


def as_integer(raw: object, low: int, high: int, what: str) -> int:
    try:
        number = int(str(raw).strip())
    except ValueError as exc:
        raise ValueError(f"Enter a whole number of {what}.") from exc
    if not low <= number <= high:
        raise ValueError(f"Enter {what} between {low} and {high}.")
    return number


def as_values(raw: object) -> list[str]:
    """A list of values, from a list or from text separated by commas or new lines."""
    items = raw if isinstance(raw, list) else re.split(r"[\n,]", str(raw or ""))
    found = [str(item).strip() for item in items if str(item).strip()]
    if not found:
        raise ValueError("Enter at least one value, separated by commas or new lines.")
    if len(found) > MAX_VALUES:
        raise ValueError(f"Enter at most {MAX_VALUES} values.")
    return found


def field_value(op: str, kind: str, raw: object) -> Any:
    """The value of a custom-field rule, typed by its operator first and by the field's kind second."""
    if op == "in_list":
        found = as_values(raw)
        return [as_number(v) for v in found] if kind == "number" else found
    if op in NUMBER_OPS or kind == "number":
        return as_number(as_text(raw))
    if op in DATE_OPS or kind == "date":
        return as_day(as_text(raw))
    if kind == "checkbox":
        checked = as_text(raw).lower()
        if checked not in ("true", "false"):
            raise ValueError("Choose checked or not checked.")
        return checked
    return as_text(raw)
