"""Each workspace's feedback thresholds: soft bounces that count as hard, and the rates that warn or pause.

Rates are typed as percentages (0.3 means 0.3%) and stored as fractions (0.003), as `FeedbackSettings`
holds them. A workspace that never saved its own uses the issue's defaults.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

from app.services import sqlparams
from app.services.bounces.model import FeedbackSettings
from app.services.form_input import whole_number
from app.services.forms import FormError
from app.services.tenancy import checked_workspace_id

MOST_SOFT_BOUNCES = 100
MOST_SOFT_DAYS = 365
RATE_FIELDS = ("complaint_warn_rate", "complaint_pause_rate", "hard_pause_rate")


class ThresholdError(FormError):
    """Threshold values that cannot be saved."""


async def feedback_settings(workspace_id: int) -> FeedbackSettings:
    """The workspace's saved thresholds, or the issue's defaults until it saves its own."""
    rows = await sqlparams.fetch_positional(
        "SELECT soft_limit, soft_days, complaint_warn_rate, complaint_pause_rate, hard_pause_rate "
        "FROM feedback_settings WHERE workspace_id = $1", [checked_workspace_id(workspace_id)])
    return FeedbackSettings(**rows[0]) if rows else FeedbackSettings()


def as_form(settings: FeedbackSettings) -> dict[str, Any]:
    """The settings as the form shows them: rates in percent, without float noise (0.3, not 0.30000000000000004)."""
    form: dict[str, Any] = asdict(settings)
    for name in RATE_FIELDS:
        form[name] = f"{form[name] * 100:.4f}".rstrip("0").rstrip(".")
    return form


def _percent(raw: Mapping[str, Any], name: str, errors: dict[str, str]) -> float:
    text = str(raw.get(name, "")).strip().rstrip("%").strip().replace(",", ".")
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0 < value <= 100:
        errors[name] = "Enter a percentage above 0 and at most 100, e.g. 0.3."
    return value / 100


def _whole(raw: Mapping[str, Any], name: str, high: int, message: str, errors: dict[str, str]) -> int:
    try:
        return whole_number(raw.get(name), name, ThresholdError, message, low=1, high=high) or 0
    except ThresholdError as exc:
        errors.update(exc.errors)
        return 0


def settings_from_form(raw: Mapping[str, Any]) -> FeedbackSettings:
    """Checked thresholds from the form; ThresholdError names every field that is wrong."""
    errors: dict[str, str] = {}
    soft_limit = _whole(raw, "soft_limit", MOST_SOFT_BOUNCES,
                        f"Enter a whole number of soft bounces from 1 to {MOST_SOFT_BOUNCES}.", errors)
    if not str(raw.get("soft_limit", "")).strip():
        errors["soft_limit"] = "Enter how many soft bounces count as a hard one."
    soft_days = _whole(raw, "soft_days", MOST_SOFT_DAYS, f"Enter a whole number of days from 1 to {MOST_SOFT_DAYS}.",
                       errors)
    if not str(raw.get("soft_days", "")).strip():
        errors["soft_days"] = "Enter over how many days soft bounces are counted."
    warn, pause, hard = (_percent(raw, name, errors) for name in RATE_FIELDS)
    if "complaint_warn_rate" not in errors and "complaint_pause_rate" not in errors and pause < warn:
        errors["complaint_pause_rate"] = "The pause rate must be at least the warning rate."
    if errors:
        raise ThresholdError(errors)
    return FeedbackSettings(soft_limit=soft_limit, soft_days=soft_days, complaint_warn_rate=warn,
                            complaint_pause_rate=pause, hard_pause_rate=hard)


async def save_settings(workspace_id: int, raw: Mapping[str, Any]) -> FeedbackSettings:
    """Check and store the workspace's thresholds; they apply to the next report processed."""
    settings = settings_from_form(raw)
    await sqlparams.fetch_positional(
        "INSERT INTO feedback_settings (workspace_id, soft_limit, soft_days, complaint_warn_rate, "
        "complaint_pause_rate, hard_pause_rate, updated_at) VALUES ($1, $2, $3, $4, $5, $6, now()) "
        "ON CONFLICT (workspace_id) DO UPDATE SET soft_limit = excluded.soft_limit, soft_days = excluded.soft_days, "
        "complaint_warn_rate = excluded.complaint_warn_rate, complaint_pause_rate = excluded.complaint_pause_rate, "
        "hard_pause_rate = excluded.hard_pause_rate, updated_at = now()",
        [checked_workspace_id(workspace_id), settings.soft_limit, settings.soft_days, settings.complaint_warn_rate,
         settings.complaint_pause_rate, settings.hard_pause_rate])
    return settings
