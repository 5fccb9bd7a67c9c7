"""Intake sources: a bucket and prefix polled for new files, the access key (secret in the vault, never shown
back), how often it is polled and how long it may stay quiet; which sources are due, and their health.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from app.db.intake import IntakeSource
from app.services import vault
from app.services.accounts import now
from app.services.form_input import LARGEST_INTEGER
from app.services.forms import FormError
from app.services.tenancy import checked_workspace_id, owned_by

POLL_RANGE = (5, 1440)
QUIET_RANGE = (1, 2160)
DEFAULT_POLL_MINUTES = 15
DEFAULT_QUIET_HOURS = 24
# S3 bucket naming rules: 3 to 63 lower-case letters, digits, dots and hyphens, starting and ending alphanumeric.
BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
ENDPOINT = re.compile(r"^https?://[^\s/]+(/\S*)?$")
PROCESSED, FAILED = "processed/", "failed/"


class SourceFormError(FormError):
    """Source settings that cannot be saved."""


@dataclass(frozen=True)
class Health:
    """How a source reads at a glance: its state, a sentence saying why, and the tone of its pill."""

    state: str  # "ok", "failing", "quiet", "waiting", "off"
    detail: str

    @property
    def tone(self) -> str:
        return {"ok": "good", "failing": "bad", "quiet": "warn"}.get(self.state, "busy")


def _text(raw: dict[str, Any], name: str, limit: int, errors: dict[str, str], message: str = "") -> str:
    value = str(raw.get(name, "") or "").strip()
    if message and not value:
        errors[name] = message
    elif len(value) > limit:
        errors[name] = f"Up to {limit} characters."
    return value


def _number(raw: dict[str, Any], name: str, bounds: tuple[int, int], default: int, errors: dict[str, str]) -> int:
    text = str(raw.get(name, "") or "").strip()
    if not text:
        return default
    if not text.isdigit() or not bounds[0] <= int(text) <= bounds[1]:
        errors[name] = f"Enter a whole number from {bounds[0]} to {bounds[1]}."
        return default
    return int(text)


def _prefix(raw: dict[str, Any], errors: dict[str, str]) -> str:
    """A folder: empty (the bucket's top) or ending in '/', never inside the processed/ or failed/ folders."""
    prefix = _text(raw, "prefix", 1000, errors).lstrip("/")
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    if prefix.startswith((PROCESSED, FAILED)):
        errors["prefix"] = "Files are moved to processed/ and failed/ once handled; watch another folder."
    return prefix


def cleaned_values(raw: dict[str, Any], stored_secret: str = "") -> dict[str, Any]:
    """Validated columns of a source; an empty secret keeps the stored one (already encrypted)."""
    errors: dict[str, str] = {}
    values: dict[str, Any] = {"name": _text(raw, "name", 120, errors, "Give the source a name.")}
    values["bucket"] = _text(raw, "bucket", 63, errors, "Name the bucket, e.g. partner-exports.").removeprefix(
        "s3://").rstrip("/")
    if "bucket" not in errors and not BUCKET.match(values["bucket"]):
        errors["bucket"] = "A bucket name is 3 to 63 lower-case letters, digits, dots and hyphens."
    values["prefix"] = _prefix(raw, errors)
    values["region"] = _text(raw, "region", 64, errors)
    values["endpoint_url"] = _text(raw, "endpoint_url", 255, errors)
    if values["endpoint_url"] and not ENDPOINT.match(values["endpoint_url"]):
        errors["endpoint_url"] = "Enter an http(s) URL such as https://s3.wasabisys.com, or leave it empty."
    values["access_key_id"] = _text(raw, "access_key_id", 255, errors)
    secret = str(raw.get("secret_access_key", "") or "").strip()
    if values["access_key_id"] and not secret and not stored_secret:
        errors["secret_access_key"] = "Enter the secret that goes with the access key."
    values["secret"] = vault.encrypt(secret) if secret else (stored_secret if values["access_key_id"] else "")
    values["poll_minutes"] = _number(raw, "poll_minutes", POLL_RANGE, DEFAULT_POLL_MINUTES, errors)
    values["quiet_hours"] = _number(raw, "quiet_hours", QUIET_RANGE, DEFAULT_QUIET_HOURS, errors)
    values["enabled"] = str(raw.get("enabled", "")).lower() in {"on", "true", "1", "yes"}
    if errors:
        raise SourceFormError(errors)
    return values


def form_of(row: dict) -> dict[str, Any]:
    """A stored source as the values of its form (the secret never goes back to the browser)."""
    return {key: row[key] for key in ("name", "bucket", "prefix", "region", "endpoint_url", "access_key_id",
                                      "poll_minutes", "quiet_hours", "enabled")}


async def sources(workspace_id: int) -> list[dict]:
    return await IntakeSource.select().where(owned_by(IntakeSource, workspace_id)).order_by(IntakeSource.name)


async def get_source(workspace_id: int, source_id: int) -> dict:
    """The source with this id in this workspace; LookupError when there is none."""
    row = None
    if 0 < source_id <= LARGEST_INTEGER:
        row = await IntakeSource.select().where(owned_by(IntakeSource, workspace_id),
                                                IntakeSource.id == source_id).first()
    if row is None:
        raise LookupError("intake source")
    return row


async def _refuse_taken_name(workspace_id: int, name: str, source_id: int = 0) -> None:
    if await IntakeSource.exists().where(owned_by(IntakeSource, workspace_id), IntakeSource.name == name,
                                         IntakeSource.id != source_id):
        raise SourceFormError({"name": "Another source already has this name."})


async def create_source(workspace_id: int, raw: dict[str, Any]) -> dict:
    values = cleaned_values(raw)
    await _refuse_taken_name(workspace_id, values["name"])
    rows = await IntakeSource.insert(IntakeSource(
        workspace_id=checked_workspace_id(workspace_id), created_at=now(), updated_at=now(), **values,
    )).returning(*IntakeSource.all_columns())
    return rows[0]


async def update_source(workspace_id: int, source_id: int, raw: dict[str, Any]) -> dict:
    current = await get_source(workspace_id, source_id)
    values = cleaned_values(raw, current["secret"])
    await _refuse_taken_name(workspace_id, values["name"], source_id)
    rows = await IntakeSource.update({**values, "updated_at": now()}).where(
        owned_by(IntakeSource, workspace_id), IntakeSource.id == source_id
    ).returning(*IntakeSource.all_columns())
    return rows[0]


async def delete_source(workspace_id: int, source_id: int) -> dict:
    """The source, its rules and its file history go; the imports it made and the files in the bucket stay."""
    rows = await IntakeSource.delete().where(owned_by(IntakeSource, workspace_id),
                                             IntakeSource.id == source_id).returning(IntakeSource.name)
    if not rows:
        raise LookupError("intake source")
    return rows[0]


def secret_of(row: dict) -> str:
    return vault.decrypt(row["secret"]) if row["secret"] else ""


def is_quiet(row: dict, at: datetime) -> bool:
    """No file has arrived for longer than the source's quiet_hours (counted from its creation at first)."""
    last = row["last_file_at"] or row["created_at"]
    return at - last > timedelta(hours=row["quiet_hours"])


def health(row: dict, at: datetime) -> Health:
    if not row["enabled"]:
        return Health("off", "Not polled: switched off.")
    if row["last_error"]:
        return Health("failing", row["last_error"])
    if row["last_polled_at"] is None:
        return Health("waiting", "Not polled yet.")
    if is_quiet(row, at):
        return Health("quiet", f"No new file for more than {row['quiet_hours']} h.")
    return Health("ok", "Polled without error.")


def alert_of(row: dict, at: datetime) -> str:
    """The notice the source deserves now: 'failing', 'quiet' or '' (compared with the one given last)."""
    state = health(row, at).state
    return state if state in ("failing", "quiet") else ""


async def due_sources(at: datetime) -> list[dict]:
    """Enabled sources of every workspace whose last poll is older than their interval."""
    return await IntakeSource.raw(
        "SELECT * FROM intake_sources WHERE enabled AND (last_polled_at IS NULL "
        "OR last_polled_at <= {}::timestamptz - make_interval(mins => poll_minutes)) "
        "ORDER BY last_polled_at NULLS FIRST", at)


async def enabled_sources() -> list[dict]:
    """Every enabled source of every workspace, for the sweep that notices quiet ones."""
    return await IntakeSource.select().where(IntakeSource.enabled == True)  # noqa: E712
