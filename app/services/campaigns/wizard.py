"""What the campaign wizard asks of the service before anything is saved: the audience the choices on screen
would reach, counted live as they change."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from app.services.campaigns.audience import Audience, checked_audience, recipient_count
from app.services.campaigns.drafts import MOST_RECENT_DAYS, CampaignError
from app.services.form_input import chosen_id, whole_number

ID_FIELDS = ("list_ids", "segment_ids", "exclusion_segment_ids")


def _ids(raw: Mapping[str, Any], field: str) -> list[int]:
    value = raw.get(field) or []
    values = value if isinstance(value, list | tuple) else [value]
    ids = [chosen_id(item, field, CampaignError, "Choose from the list.") for item in values]
    return [item for item in ids if item is not None]


async def chosen_audience(workspace_id: int, raw: Mapping[str, Any]) -> Audience:
    """The audience of the Audience step's values as submitted, each id held to the workspace (LookupError)."""
    days = whole_number(raw.get("exclude_recent_days"), "exclude_recent_days", CampaignError,
                        f"Enter a number of days from 1 to {MOST_RECENT_DAYS}, or leave it empty.",
                        low=1, high=MOST_RECENT_DAYS)
    return await checked_audience(workspace_id, *(_ids(raw, field) for field in ID_FIELDS), days)


async def live_count(workspace_id: int, raw: Mapping[str, Any]) -> int:
    """How many distinct addresses the choices on screen would reach now, exclusions and suppression taken off."""
    return await recipient_count(workspace_id, await chosen_audience(workspace_id, raw))
