"""Campaign drafts: created, saved step by step (only the fields a step submits), read, duplicated.

Only a draft can be edited. A scheduled campaign goes back to draft to be
changed; once it is sending, the only change is a pause.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from app.db.accounts import Workspace
from app.db.campaigns import Campaign
from app.db.content import EmailTemplate, SendingDomain
from app.services.accounts import now
from app.services.campaigns.audience import checked_audience
from app.services.form_input import LARGEST_INTEGER, chosen_id, owned_id
from app.services.forms import FormError
from app.services.subscribers import SubscriberError, normalized_email
from app.services.tenancy import checked_workspace_id, owned_by

NAME_LENGTH = 160
SUBJECT_LENGTH = 998
PREHEADER_LENGTH = 255
TAG_LENGTH = 64
PAGE_SIZE = 50
ID_FIELDS = ("list_ids", "segment_ids", "exclusion_segment_ids")
# What "duplicate as new" copies: everything a person chose, nothing the send did.
CHOSEN = ("from_name", "from_email", "reply_to", "subject", "preheader", "template_id", "routing_tag",
          *ID_FIELDS, "timezone")


class CampaignError(FormError):
    """Campaign values that cannot be saved, or a step the campaign's state does not allow."""


async def get_campaign(workspace_id: int, campaign_id: object) -> dict:
    """The campaign with this id in this workspace; LookupError (404) for anything else."""
    try:
        pk = int(campaign_id)  # type: ignore[call-overload]
    except (TypeError, ValueError) as exc:
        raise LookupError("campaign") from exc
    row = None
    if 0 < pk <= LARGEST_INTEGER:
        row = await Campaign.select().where(owned_by(Campaign, workspace_id), Campaign.id == pk).output(
            load_json=True).first()
    if row is None:
        raise LookupError("campaign")
    return row


async def campaigns_page(workspace_id: int, before_id: int | None = None, limit: int = PAGE_SIZE) -> list[dict]:
    """Newest first, keyset-paginated on id; figures come from the row (the counters), never from deliveries."""
    query = Campaign.select().where(owned_by(Campaign, workspace_id))
    if before_id is not None:
        query = query.where(Campaign.id < before_id)
    return await query.order_by(Campaign.id, ascending=False).limit(limit).output(load_json=True)


def _text(raw: Mapping[str, Any], name: str) -> str:
    return str(raw.get(name) or "").strip()


def _address(value: str, field: str, errors: dict[str, str]) -> str:
    try:
        return normalized_email(value)
    except SubscriberError as exc:
        errors[field] = exc.errors["email"]
        return value


def _ids(raw: Mapping[str, Any], field: str) -> list[int]:
    value = raw.get(field)
    values = value if isinstance(value, list | tuple) else [value]
    ids = [chosen_id(item, field, CampaignError, "Choose from the list.") for item in values]
    return [item for item in ids if item is not None]


def scheduled_instant(local: str, timezone: str) -> datetime:
    """The moment `local` (as typed, e.g. 2026-12-01T09:30) happens in `timezone`."""
    try:
        naive = datetime.fromisoformat(local)
    except ValueError as exc:
        raise CampaignError({"scheduled_at": "Enter a date and time such as 2026-12-01 09:30."}) from exc
    if naive.tzinfo is not None:
        return naive
    return naive.replace(tzinfo=ZoneInfo(timezone))


def _zone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise CampaignError({"timezone": "Choose a time zone from the list."}) from exc
    return name


async def from_domain_problem(workspace_id: int, address: str) -> str | None:
    domains = [row["domain"] for row in await SendingDomain.select(SendingDomain.domain).where(
        owned_by(SendingDomain, workspace_id)).order_by(SendingDomain.domain)]
    if address.rpartition("@")[2] in domains:
        return None
    if not domains:
        return "Add the sender's domain under Delivery → Sending domains first."
    return f"Send from one of your sending domains: {', '.join(domains)}."


async def _cleaned(workspace_id: int, raw: Mapping[str, Any], timezone: str = "UTC") -> dict[str, Any]:
    """The submitted fields only, checked; a missing field is left as it is.

    A time is read in the submitted time zone, else in `timezone` (the one the campaign has).
    """
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    if "name" in raw:
        values["name"] = _text(raw, "name")
        if not values["name"] or len(values["name"]) > NAME_LENGTH:
            errors["name"] = f"Give the campaign a name of up to {NAME_LENGTH} characters."
    if "from_name" in raw:
        values["from_name"] = _text(raw, "from_name")[:120]
    for field in ("from_email", "reply_to"):
        if field in raw:
            values[field] = _text(raw, field) and _address(_text(raw, field), field, errors)
    if values.get("from_email") and "from_email" not in errors:
        if problem := await from_domain_problem(workspace_id, values["from_email"]):
            errors["from_email"] = problem
    limits = {"subject": SUBJECT_LENGTH, "preheader": PREHEADER_LENGTH, "routing_tag": TAG_LENGTH}
    for field, limit in limits.items():
        if field in raw:
            values[field] = _text(raw, field)
            if len(values[field]) > limit:
                errors[field] = f"Use at most {limit} characters."
    if "timezone" in raw:
        values["timezone"] = _zone(_text(raw, "timezone") or "UTC")
    if "scheduled_at" in raw:
        local = _text(raw, "scheduled_at")
        values["scheduled_at"] = scheduled_instant(local, values.get("timezone", timezone)) if local else None
    if errors:
        raise CampaignError(errors)
    if "template_id" in raw:
        values["template_id"] = await owned_id(EmailTemplate, workspace_id, chosen_id(
            raw.get("template_id"), "template_id", CampaignError, "Choose a template."))
    if any(field in raw for field in ID_FIELDS):
        picked = {field: _ids(raw, field) for field in ID_FIELDS if field in raw}
        audience = await checked_audience(workspace_id, picked.get("list_ids", []), picked.get("segment_ids", []),
                                          picked.get("exclusion_segment_ids", []))
        values.update({field: list(getattr(audience, field)) for field in picked})
    return values


async def create_draft(workspace_id: int, raw: Mapping[str, Any], user_id: int | None = None) -> dict:
    """A new draft; its time zone is the workspace's unless one is given."""
    workspace = await Workspace.select(Workspace.timezone).where(Workspace.id == workspace_id).first()
    zone = workspace["timezone"] if workspace else "UTC"
    values = await _cleaned(workspace_id, {"name": raw.get("name", ""), "timezone": zone, **raw}, zone)
    rows = await Campaign.insert(Campaign(
        workspace_id=checked_workspace_id(workspace_id), created_by=user_id, created_at=now(), updated_at=now(),
        **values)).returning(Campaign.id)
    return await get_campaign(workspace_id, rows[0]["id"])


async def update_draft(workspace_id: int, campaign_id: int, raw: Mapping[str, Any]) -> dict:
    """Save the submitted fields of a draft; CampaignError when it is no longer a draft."""
    campaign = await get_campaign(workspace_id, campaign_id)
    values = await _cleaned(workspace_id, raw, campaign["timezone"])
    rows = await Campaign.update({**values, Campaign.updated_at: now()}).where(
        owned_by(Campaign, workspace_id), Campaign.id == campaign["id"], Campaign.status == "draft"
    ).returning(Campaign.id)
    if not rows:
        raise CampaignError(f"This campaign is {campaign['status']}: only drafts can be edited.")
    return await get_campaign(workspace_id, campaign_id)


async def duplicate(workspace_id: int, campaign_id: int, user_id: int | None = None) -> dict:
    """A new draft with the same choices (sender, content, audience), whatever state the original is in."""
    source = await get_campaign(workspace_id, campaign_id)
    name = f"{source['name']} (copy)"[:NAME_LENGTH]
    rows = await Campaign.insert(Campaign(
        workspace_id=checked_workspace_id(workspace_id), name=name, created_by=user_id, created_at=now(),
        updated_at=now(), **{field: source[field] for field in CHOSEN})).returning(Campaign.id)
    return await get_campaign(workspace_id, rows[0]["id"])
