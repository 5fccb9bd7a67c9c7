"""Leads a sponsor or lead vendor posts: the subscriber joins the list through the subscriber service, and the
lead keeps who sent it (source and sub-ids) and the consent record the vendor took.

A lead is refused, never silently dropped, when its address is suppressed or already on the list: the vendor
is paid per lead and must hear which ones did not count (`LeadRefused.code`).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlparse

from redis.asyncio import Redis

from app.db.audience import Subscriber
from app.db.leads import Lead
from app.services import subscriptions
from app.services.accounts import now
from app.services.forms import FormError
from app.services.lists import get_list
from app.services.subscribers import SubscriberError, add_subscriber, normalized_email
from app.services.subscribers.records import ALREADY_ON_LIST
from app.services.suppression import mailable
from app.services.tenancy import checked_workspace_id
from app.settings import Settings

SUB_IDS = 5
# A consent recorded later than this after now is a clock or a forgery, not a moment.
CLOCK_SKEW = timedelta(minutes=5)


class LeadRefused(Exception):
    """A well-formed lead that does not count; `code` is stable for the vendor's software."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Consent:
    ip: str
    timestamp: datetime
    page_url: str = ""
    text: str = ""

    def as_json(self) -> dict[str, str]:
        return {"ip": self.ip, "timestamp": self.timestamp.isoformat(), "page_url": self.page_url, "text": self.text}


@dataclass(frozen=True)
class LeadIn:
    list_id: int
    email: str
    source: str
    consent: Consent
    # Form-style values by `field_<tag>`, as the subscriber service reads them.
    fields: dict[str, str]
    sub_ids: Sequence[str] = ()


def consent_problems(consent: Consent) -> dict[str, str]:
    problems: dict[str, str] = {}
    try:
        ipaddress.ip_address(consent.ip.strip())
    except ValueError:
        problems["consent.ip"] = "Give the IP address the person agreed from."
    stamp = consent.timestamp if consent.timestamp.tzinfo else consent.timestamp.replace(tzinfo=UTC)
    if stamp > now() + CLOCK_SKEW:
        problems["consent.timestamp"] = "The moment of consent lies in the future."
    if consent.page_url:
        parsed = urlparse(consent.page_url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            problems["consent.page_url"] = "Give the web address of the page, starting with http:// or https://."
    if not consent.text.strip():
        problems["consent.text"] = "Give the consent text the person agreed to."
    return problems


def lead_problems(lead: LeadIn) -> dict[str, str]:
    """Everything wrong with the lead's own values (the subscriber's are the subscriber service's to judge)."""
    problems = consent_problems(lead.consent)
    if not lead.source.strip():
        problems["source"] = "Name the sponsor or vendor the lead comes from."
    elif len(lead.source) > 120:
        problems["source"] = "Use at most 120 characters."
    if len(lead.sub_ids) > SUB_IDS:
        problems["sub_ids"] = f"At most {SUB_IDS} sub-ids."
    for number, value in enumerate(lead.sub_ids, start=1):
        if len(value) > 255:
            problems[f"sub{number}"] = "Use at most 255 characters."
    return problems


async def _refuse_if_not_wanted(workspace_id: int, list_id: int, email: str) -> None:
    if (await mailable.suppressions_of(workspace_id, [email])).get(email):
        raise LeadRefused("address_suppressed", "The address is suppressed in this workspace; the lead was not added.")
    if await Subscriber.exists().where(Subscriber.list_id == list_id, Subscriber.email == email):
        raise LeadRefused("duplicate_lead", "The address is already on this list; the lead was not added.")


async def record_lead(settings: Settings, redis: Redis, workspace_id: int, lead: LeadIn,
                      api_key_id: int | None = None) -> dict[str, Any]:
    """The lead stored and its subscriber added (unconfirmed, with a confirmation mail, on a double opt-in
    list); LookupError for a list of another workspace, FormError for bad values, LeadRefused otherwise."""
    mailing_list = await get_list(workspace_id, lead.list_id)
    if mailing_list is None:
        raise LookupError("list")
    problems = lead_problems(lead)
    try:
        email = normalized_email(lead.email)
    except SubscriberError as exc:
        problems.update(exc.errors)
    if problems:
        raise FormError(problems)
    await _refuse_if_not_wanted(workspace_id, mailing_list["id"], email)
    double = mailing_list["opt_in"] == "double"
    subs = [*lead.sub_ids, *[""] * SUB_IDS][:SUB_IDS]
    try:
        async with Lead._meta.db.transaction():
            subscriber = await add_subscriber(workspace_id, mailing_list["id"], {**lead.fields, "email": email},
                                              status="unconfirmed" if double else "confirmed", source="lead",
                                              ip=lead.consent.ip.strip())
            rows = await Lead.insert(Lead(
                workspace_id=checked_workspace_id(workspace_id), list_id=mailing_list["id"],
                subscriber_id=subscriber["id"], source=lead.source.strip(), consent=lead.consent.as_json(),
                api_key_id=api_key_id, created_at=now(), **{f"sub{n}": value for n, value in enumerate(subs, 1)},
            )).returning(*Lead.all_columns())
    except SubscriberError as exc:
        if exc.errors.get("email") == ALREADY_ON_LIST:  # posted twice at once: the other one counted
            raise LeadRefused("duplicate_lead", "The address is already on this list; the lead was not added.") \
                from exc
        raise
    if double:
        await subscriptions.send_confirmation(settings, redis, mailing_list, email, subscriber["id"])
    return {**rows[0], "subscriber": subscriber}


async def leads_of_subscribers(workspace_id: int, subscriber_ids: Sequence[int]) -> list[dict]:
    """The leads behind these subscribers, consent records included (for a person's data export)."""
    return await Lead.select(
        Lead.subscriber_id, Lead.list_id, Lead.source, Lead.sub1, Lead.sub2, Lead.sub3, Lead.sub4, Lead.sub5,
        Lead.consent, Lead.created_at,
    ).where(Lead.workspace_id == checked_workspace_id(workspace_id),
            Lead.subscriber_id.is_in(list(subscriber_ids) or [0])).order_by(Lead.id).output(load_json=True)
