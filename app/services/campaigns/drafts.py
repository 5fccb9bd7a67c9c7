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
from app.db.delivery import DeliveryServer
from app.piccolo_conf import DB
from app.services import statements
from app.services.accounts import now
from app.services.campaigns import send_times
from app.services.campaigns.audience import checked_audience
from app.services.form_input import LARGEST_INTEGER, chosen_id, owned_id, whole_number
from app.services.forms import FormError
from app.services.subscribers import SubscriberError, normalized_email
from app.services.tenancy import checked_workspace_id, owned_by

NAME_LENGTH = 160
SUBJECT_LENGTH = 998
PREHEADER_LENGTH = 255
TAG_LENGTH = 64
PAGE_SIZE = 50
ID_FIELDS = ("list_ids", "segment_ids", "exclusion_segment_ids")
UTM_FIELDS = ("utm_source", "utm_medium", "utm_campaign", "utm_content", "utm_term")
UTM_LENGTH = 255
MOST_TAGS = 20
MOST_RECENT_DAYS = 365
# What "duplicate as new" copies: everything a person chose, nothing the send did (the time only when it
# is still ahead: see `duplicate`).
CHOSEN = ("from_name", "from_email", "reply_to", "subject", "preheader", "template_id", "routing_tag",
          *ID_FIELDS, "timezone", "tags", "utm", "pool_server_ids", "exclude_recent_days", "send_mode",
          "window_start", "window_end", "speed_per_hour", "ab_dimension", "ab_test_percent", "ab_metric",
          "ab_wait_minutes")
# Records that must check out before a domain is verified: the ones mailbox providers authenticate with.
VERIFYING_RECORDS = ("SPF", "DKIM")


class CampaignError(FormError):
    """Campaign values that cannot be saved, or a step the campaign's state does not allow."""


async def get_campaign(workspace_id: int, campaign_id: object, kinds: tuple[str, ...] = ("campaign",)) -> dict:
    """The campaign with this id in this workspace; LookupError (404) for anything else. The send path also
    reads a flow step's campaign (`kinds`); pages never do."""
    try:
        pk = int(campaign_id)  # type: ignore[call-overload]
    except (TypeError, ValueError) as exc:
        raise LookupError("campaign") from exc
    row = None
    if 0 < pk <= LARGEST_INTEGER:
        row = await Campaign.select().where(owned_by(Campaign, workspace_id), Campaign.id == pk,
                                            Campaign.kind.is_in(list(kinds))).output(
            load_json=True).first()
    if row is None:
        raise LookupError("campaign")
    return row


async def campaigns_page(workspace_id: int, before_id: int | None = None, limit: int = PAGE_SIZE) -> list[dict]:
    """Newest first, keyset-paginated on id; figures come from the row (the counters), never from deliveries."""
    query = Campaign.select().where(owned_by(Campaign, workspace_id), Campaign.kind == "campaign")
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


def is_verified(domain: Mapping[str, Any]) -> bool:
    """A sending domain is verified once its last DNS check found its SPF and DKIM records published."""
    status = domain["dns_status"] or {}
    return domain["checked_at"] is not None and all(status.get(record) for record in VERIFYING_RECORDS)


async def from_domain_problem(workspace_id: int, address: str) -> str | None:
    """Why a campaign cannot come from `address` (its domain is not a verified sending domain), or None."""
    domains = await SendingDomain.select(SendingDomain.domain, SendingDomain.dns_status,
                                         SendingDomain.checked_at).where(
        owned_by(SendingDomain, workspace_id)).order_by(SendingDomain.domain).output(load_json=True)
    verified = [row["domain"] for row in domains if is_verified(row)]
    domain = address.rpartition("@")[2].lower()
    if domain in verified:
        return None
    if not domains:
        return "Add the sender's domain under Delivery → Sending domains first."
    if domain in {row["domain"] for row in domains}:
        return (f"{domain} is not verified yet: publish its DNS records and check them under "
                "Delivery → Sending domains.")
    if not verified:
        return ("None of your sending domains is verified yet: publish their DNS records and check them under "
                "Delivery → Sending domains.")
    return f"Send from one of your verified sending domains: {', '.join(verified)}."


def _tags(raw: Mapping[str, Any], errors: dict[str, str]) -> list[str]:
    """Tags typed as "a, b" (or picked one by one), without repeats, in the order given."""
    value = raw.get("tags")
    parts = value if isinstance(value, list | tuple) else str(value or "").split(",")
    tags: dict[str, str] = {}
    for part in parts:
        tag = " ".join(str(part).split())
        if tag:
            tags.setdefault(tag.lower(), tag)
    if any(len(tag) > TAG_LENGTH for tag in tags.values()) or len(tags) > MOST_TAGS:
        errors["tags"] = f"Use at most {MOST_TAGS} tags of up to {TAG_LENGTH} characters each."
    return list(tags.values())


def _utm(raw: Mapping[str, Any], current: Mapping[str, Any], errors: dict[str, str]) -> dict[str, str]:
    """The campaign's UTM parameters with the submitted ones changed (a blank one is dropped)."""
    utm = dict(current.get("utm") or {})
    for field in UTM_FIELDS:
        if field not in raw:
            continue
        utm.pop(field, None)
        if value := _text(raw, field):
            utm[field] = value
            if len(value) > UTM_LENGTH:
                errors[field] = f"Use at most {UTM_LENGTH} characters."
    return utm


async def _pool(workspace_id: int, raw: Mapping[str, Any]) -> list[int]:
    """The delivery servers picked to send through instead of the routing rules; each held to the workspace."""
    ids = sorted(set(_ids(raw, "pool_server_ids")))
    if ids:
        found = {row["id"] for row in await DeliveryServer.select(DeliveryServer.id).where(
            owned_by(DeliveryServer, workspace_id), DeliveryServer.id.is_in(ids))}
        if missing := set(ids) - found:
            raise LookupError(f"delivery server {min(missing)}")
    return ids


def _clock(raw: Mapping[str, Any], field: str, errors: dict[str, str]) -> int | None:
    text = _text(raw, field)
    if not text:
        return None
    try:
        return send_times.clock_minutes(text, end=field == "window_end")
    except ValueError:
        errors[field] = "Enter a time such as 08:00."
        return None


def _delivery(raw: Mapping[str, Any], current: Mapping[str, Any], values: dict[str, Any],
              errors: dict[str, str]) -> None:
    """The Delivery step: how and when it goes, the sending window, the speed limit; checked together with
    what the campaign already has, since a step may submit only some of them."""
    if "send_mode" in raw:
        values["send_mode"] = _text(raw, "send_mode") or "now"
        if values["send_mode"] not in send_times.MODES:
            errors["send_mode"] = "Choose when the campaign goes out."
    mode = values.get("send_mode", current.get("send_mode", "now"))
    if mode == "now" and "send_mode" in raw:
        values["scheduled_at"] = None
    elif mode == "now" and values.get("scheduled_at"):
        # A time given without a mode (an API call, an older form) means "at that time".
        values["send_mode"] = "at"
    elif mode in send_times.TIMED_MODES and values.get("scheduled_at", current.get("scheduled_at")) is None \
            and "scheduled_at" not in errors:
        errors["scheduled_at"] = "Choose the date and time."
    for field in ("window_start", "window_end"):
        if field in raw:
            values[field] = _clock(raw, field, errors)
    start, end = (values.get(field, current.get(field)) for field in ("window_start", "window_end"))
    if "window_start" not in errors and "window_end" not in errors:
        if (start is None) != (end is None):
            errors["window_end" if end is None else "window_start"] = "Give both ends of the window, or neither."
        elif start is not None and start % send_times.MINUTES_PER_DAY == end % send_times.MINUTES_PER_DAY:
            errors["window_end"] = "The window must end at another time than it starts."
    if "speed_per_hour" in raw:
        values["speed_per_hour"] = _whole(raw, "speed_per_hour", 1, LARGEST_INTEGER, errors,
                                          "Enter a number of messages an hour, or leave it empty for no limit.")


def _whole(raw: Mapping[str, Any], field: str, low: int, high: int, errors: dict[str, str],
           message: str) -> int | None:
    try:
        return whole_number(raw.get(field), field, CampaignError, message, low=low, high=high)
    except CampaignError as exc:
        errors.update(exc.errors)
        return None


async def _cleaned(workspace_id: int, raw: Mapping[str, Any], current: Mapping[str, Any]) -> dict[str, Any]:
    """The submitted fields only, checked; a missing field is left as it is (`current` has what is saved).

    A time is read in the submitted time zone, else in the one the campaign has.
    """
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    timezone = current.get("timezone") or "UTC"
    if "name" in raw:
        values["name"] = _text(raw, "name")
        if not values["name"] or len(values["name"]) > NAME_LENGTH:
            errors["name"] = ("Give the campaign a name." if not values["name"]
                              else f"Use at most {NAME_LENGTH} characters for the name.")
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
    if "tags" in raw:
        values["tags"] = _tags(raw, errors)
    if any(field in raw for field in UTM_FIELDS):
        values["utm"] = _utm(raw, current, errors)
    if "exclude_recent_days" in raw:
        values["exclude_recent_days"] = _whole(
            raw, "exclude_recent_days", 1, MOST_RECENT_DAYS, errors,
            f"Enter a number of days from 1 to {MOST_RECENT_DAYS}, or leave it empty.")
    if "timezone" in raw:
        try:
            values["timezone"] = _zone(_text(raw, "timezone") or "UTC")
        except CampaignError as exc:
            errors.update(exc.errors)
    if "scheduled_at" in raw:
        local = _text(raw, "scheduled_at")
        try:
            values["scheduled_at"] = scheduled_instant(local, values.get("timezone", timezone)) if local else None
        except CampaignError as exc:
            errors.update(exc.errors)
    _delivery(raw, current, values, errors)
    if errors:
        raise CampaignError(errors)
    if "pool_server_ids" in raw:
        values["pool_server_ids"] = await _pool(workspace_id, raw)
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
    values = await _cleaned(workspace_id, {"name": raw.get("name", ""), "timezone": zone, **raw}, {"timezone": zone})
    rows = await Campaign.insert(Campaign(
        workspace_id=checked_workspace_id(workspace_id), created_by=user_id, created_at=now(), updated_at=now(),
        **values)).returning(Campaign.id)
    return await get_campaign(workspace_id, rows[0]["id"])


async def update_draft(workspace_id: int, campaign_id: int, raw: Mapping[str, Any]) -> dict:
    """Save the submitted fields of a draft; CampaignError when it is no longer a draft."""
    campaign = await get_campaign(workspace_id, campaign_id)
    values = await _cleaned(workspace_id, raw, campaign)
    rows = await Campaign.update({**values, Campaign.updated_at: now()}).where(
        owned_by(Campaign, workspace_id), Campaign.id == campaign["id"], Campaign.status == "draft"
    ).returning(Campaign.id)
    if not rows:
        raise CampaignError(f"This campaign is {campaign['status']}: only drafts can be edited.")
    return await get_campaign(workspace_id, campaign_id)


async def duplicate(workspace_id: int, campaign_id: int, user_id: int | None = None) -> dict:
    """A new draft with the same choices (sender, content, audience, delivery), whatever state the original is in.

    A time already past is not copied: the copy of a campaign sent last week asks for a new one.
    """
    source = await get_campaign(workspace_id, campaign_id)
    name = f"{source['name']} (copy)"[:NAME_LENGTH]
    ahead = source["scheduled_at"] if source["scheduled_at"] and source["scheduled_at"] > now() else None
    async with DB.transaction():
        rows = await Campaign.insert(Campaign(
            workspace_id=checked_workspace_id(workspace_id), name=name, created_by=user_id, created_at=now(),
            updated_at=now(), scheduled_at=ahead, **{field: source[field] for field in CHOSEN})).returning(Campaign.id)
        await statements.run("ab_tests.copy-variants", workspace_id, source["id"], rows[0]["id"])
    return await get_campaign(workspace_id, rows[0]["id"])
