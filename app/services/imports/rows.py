"""Turning one record of a file into a subscriber: the address normalised and validated, fields typed.

Addresses are stored as the rest of Ignite stores them (`subscribers.normalized_email`):
trimmed, Unicode NFC, and lower-cased whole, local part included, because
mailbox providers treat "Bob@" and "bob@" as one mailbox and so must we.

email-validator takes about 20 µs per address, 20 s for a million rows, so a
plain ASCII address that a strict pattern accepts is taken as valid at once;
everything else (Unicode, quoted local parts, odd domains) gets the full check.
The pattern only accepts what email-validator accepts too (a test pins that).
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from email_validator import SPECIAL_USE_DOMAIN_NAMES, EmailNotValidError, validate_email

from app.services.csv_files import FORMULA_LEADS
from app.services.custom_fields import value_problem

_ATOM = r"[a-z0-9_!#$%&'*+/=?^`{|}~-]+"
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
PLAIN_ADDRESS = re.compile(rf"{_ATOM}(?:\.{_ATOM})*@(?:{_LABEL}\.)+[a-z]{{1,63}}")
_SPECIAL_TLDS = frozenset(SPECIAL_USE_DOMAIN_NAMES)
_LOOSE_ADDRESS = re.compile(r"[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+")
_ANGLE = re.compile(r"<([^<>]*)>")
MAX_TEXT = 2000
THOUSANDS = re.compile(r"[+-]?\d{1,3}(,\d{3})+")
TRUE_WORDS = frozenset({"true", "yes", "y", "1", "on", "x", "checked"})
FALSE_WORDS = frozenset({"false", "no", "n", "0", "off", ""})


def looks_like_email(text: str) -> bool:
    """A loose test for sniffing which column holds addresses; not validation."""
    return bool(_LOOSE_ADDRESS.fullmatch(text.strip().removeprefix("mailto:")))


def _plain(address: str) -> bool:
    if len(address) > 254 or not PLAIN_ADDRESS.fullmatch(address):
        return False
    local, _, domain = address.rpartition("@")
    # "xx--" labels may be Punycode that email-validator would decode; leave them to it.
    return len(local) <= 64 and "--" not in domain and domain.rsplit(".", 1)[1] not in _SPECIAL_TLDS


def clean_email(raw: str) -> tuple[str, str] | str:
    """(address, domain), or why the value is not an address."""
    text = raw.strip()
    if "<" in text and (match := _ANGLE.search(text)):  # "Jane Doe <jane@example.com>"
        text = match.group(1).strip()
    if text[:7].lower() == "mailto:":
        text = text[7:]
    if text[:1] == "'" and text[1:2] in FORMULA_LEADS:
        text = text[1:]  # the apostrophe CSV exports put before what a spreadsheet would run as a formula
    if not text:
        return "missing email"
    if not text.isascii():
        text = unicodedata.normalize("NFC", text)
    lowered = text.lower()
    if _plain(lowered):
        return lowered, lowered.rpartition("@")[2]
    try:
        address = validate_email(text, check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        return f"invalid email: {exc}"
    return address, address.rpartition("@")[2]


class FieldValueError(ValueError):
    pass


def _number(value: str, field: dict) -> int | float:
    text = value.replace(" ", "").replace("\u00a0", "")
    if "," in text and "." not in text:
        # "1,234" reads as thousands, "12,5" as a decimal comma the way European spreadsheets write it.
        text = text.replace(",", "") if THOUSANDS.fullmatch(text) else text.replace(",", ".")
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise FieldValueError(f"bad number in {field['label']}: {value!r}") from None
    if not number.is_finite():
        raise FieldValueError(f"bad number in {field['label']}: {value!r}")
    return int(number) if number == number.to_integral_value() else float(number)


def _date(value: str, field: dict) -> str:
    text = value.replace("/", "-")[:10]
    try:
        return date.fromisoformat(text).isoformat()
    except ValueError:
        raise FieldValueError(f"bad date in {field['label']}: {value!r} (use YYYY-MM-DD)") from None


def _checkbox(value: str, field: dict) -> bool:
    word = value.lower()
    if word in TRUE_WORDS or word in FALSE_WORDS:
        return word in TRUE_WORDS
    raise FieldValueError(f"bad yes/no value in {field['label']}: {value!r}")


def _dropdown(value: str, field: dict) -> str:
    for option in field["options"]:
        if option.lower() == value.lower():
            return option
    raise FieldValueError(f"{field['label']} must be one of {', '.join(field['options'])}: {value!r}")


def _checked(value: str, field: dict) -> str:
    problem = value_problem(field, value)
    if problem:
        raise FieldValueError(f"bad value in {field['label']}: {problem}")
    return value


CONVERTERS = {"number": _number, "date": _date, "checkbox": _checkbox, "dropdown": _dropdown,
              "phone": _checked, "url": _checked}


@dataclass(frozen=True)
class MappedField:
    index: int
    tag: str
    definition: dict


class Rejected(str):
    """The reason a row was rejected."""


def defaults_json(fields: list[dict]) -> str:
    """The default values of a list's fields, typed, as JSON for new subscribers."""
    defaults: dict[str, Any] = {}
    for definition in fields:
        if definition["default_value"]:
            convert = CONVERTERS.get(definition["kind"])
            try:
                defaults[definition["tag"]] = convert(definition["default_value"], definition) if convert \
                    else definition["default_value"]
            except FieldValueError:
                continue  # a default the field itself would refuse is left out rather than stored
    return json.dumps(defaults, ensure_ascii=False)


class RowBuilder:
    """Builds (email, domain, fields JSON) from a record, or says why the record is rejected."""

    def __init__(self, mapping: dict[str, Any], fields: list[dict]) -> None:
        self.email_index: int = mapping["email"]
        by_tag = {f["tag"]: f for f in fields}
        self.mapped = [MappedField(index, tag, by_tag[tag]) for tag, index in mapping["fields"].items()
                       if tag in by_tag]

    def build(self, record: list[str]) -> tuple[str, str, str] | Rejected:
        cell = record[self.email_index] if self.email_index < len(record) else ""
        cleaned = clean_email(cell)
        if isinstance(cleaned, str):
            return Rejected(cleaned)
        values: dict[str, Any] = {}
        width = len(record)
        for mapped in self.mapped:
            value = record[mapped.index].strip() if mapped.index < width else ""
            definition = mapped.definition
            if not value:
                # Defaults are applied by the database to new subscribers only, never over an existing value.
                if definition["required"] and not definition["default_value"]:
                    return Rejected(f"missing required field: {definition['label']}")
                continue
            if not value.isascii():
                value = unicodedata.normalize("NFC", value)
            convert = CONVERTERS.get(definition["kind"])
            if convert is None:
                if len(value) > MAX_TEXT:
                    return Rejected(f"{definition['label']} is longer than {MAX_TEXT:,} characters")
                values[mapped.tag] = value
                continue
            try:
                values[mapped.tag] = convert(value, definition)
            except FieldValueError as exc:
                return Rejected(str(exc))
        email, domain = cleaned
        return email, domain, json.dumps(values, ensure_ascii=False, separators=(",", ":"))
