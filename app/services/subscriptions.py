"""Public subscribe forms, double opt-in confirmation, and the address-only unsubscribe links of older mail.

Neither confirming nor unsubscribing ever happens on a GET: link scanners (Microsoft Safe Links and
others) fetch every link of a message, and would otherwise confirm subscriptions nobody asked for
(mautic/mautic#9400) and unsubscribe people who did not ask to leave. The link opens a page whose button
posts. Campaign messages name their delivery instead (app/services/tracking/recipients.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from redis.asyncio import Redis

from app.db.audience import MailingList, Subscriber
from app.esp.base import OutgoingMessage
from app.services.custom_fields import fields_of
from app.services.public_limits import FORGED_LINK, MAILED_LINK, SUBSCRIBE, admit
from app.services.sending import send_now
from app.services.subscribers import (
    SubscriberFilter,
    add_subscriber,
    change_status,
    normalized_email,
)
from app.services.system_mail import email_message, rendered_mail
from app.services.templates import default_from_address
from app.services.tokens import signed, unsigned
from app.settings import Settings

CONFIRM_MAX_AGE = 7 * 86400
# A field people never see on the form (hidden by CSS, skipped by keyboards): only bots fill it in.
HONEYPOT = "website"


@dataclass(frozen=True)
class SubscribeOutcome:
    needs_confirmation: bool
    subscriber_id: int | None


def public_form_url(settings: Settings, list_id: int) -> str:
    return f"{settings.base_url}/s/{signed(settings.security.secret_key, 'form', list_id)}"


def list_id_from_form_token(secret_key: str, token: str) -> int | None:
    value = unsigned(secret_key, "form", token)
    return value if isinstance(value, int) else None


def unsubscribe_url(settings: Settings, workspace_id: int, email: str) -> str:
    return f"{settings.base_url}/u/{signed(settings.security.secret_key, 'unsubscribe', [workspace_id, email])}"


def _confirm_serializer(secret_key: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret_key, salt="ignite:confirm")


async def public_list(list_id: int) -> dict | None:
    """The list behind a public form, unless it was archived."""
    return await MailingList.select().where(MailingList.id == list_id, MailingList.archived_at.is_null()).first()


async def subscribe(settings: Settings, redis: Redis, mailing_list: dict, raw: dict[str, Any],
                    ip: str) -> SubscribeOutcome:
    """Add the address from a public form; double opt-in lists email a confirmation link first.

    Each submission counts against the client address and the email address (RateLimited when over).
    An address already on the list gets the same answer as a new one, so the form reveals nothing about
    who is subscribed; a filled-in honeypot gets it too, and nothing is written. Only the fields shown
    on forms are taken from the submission: a hidden field keeps its default.
    """
    await admit(redis, SUBSCRIBE, ip, str(raw.get("email", "")))
    workspace_id, list_id = mailing_list["workspace_id"], mailing_list["id"]
    double = mailing_list["opt_in"] == "double"
    if str(raw.get(HONEYPOT, "")).strip():
        return SubscribeOutcome(needs_confirmation=double, subscriber_id=None)
    email = normalized_email(str(raw.get("email", "")))
    existing = await Subscriber.select(Subscriber.id, Subscriber.status).where(Subscriber.list_id == list_id,
                                                                               Subscriber.email == email).first()
    if existing:
        if double and existing["status"] == "unconfirmed":
            # The first link may be lost or expired; the per-address limit keeps this from becoming spam.
            await send_confirmation(settings, redis, mailing_list, email, existing["id"])
        return SubscribeOutcome(needs_confirmation=double, subscriber_id=None)
    writable = {f"field_{field['tag']}" for field in await fields_of(workspace_id, list_id) if field["visible"]}
    values = {name: value for name, value in raw.items() if name in writable}
    created = await add_subscriber(workspace_id, list_id, {**values, "email": email},
                                   status="unconfirmed" if double else "confirmed", source="form", ip=ip)
    if double:
        await send_confirmation(settings, redis, mailing_list, email, created["id"])
    return SubscribeOutcome(needs_confirmation=double, subscriber_id=created["id"])


async def send_confirmation(settings: Settings, redis: Redis, mailing_list: dict, email: str,
                             subscriber_id: int) -> None:
    """The confirmation link, from the list's sender, through the workspace's servers (else the dev inbox)."""
    workspace_id = mailing_list["workspace_id"]
    token = _confirm_serializer(settings.security.secret_key).dumps(subscriber_id)
    name = mailing_list["display_name"] or mailing_list["name"]
    company = " · ".join(part for part in (mailing_list["company_name"], mailing_list["company_address"]) if part)
    mail = rendered_mail("confirm_subscription", f"Please confirm your subscription to {name}", list_name=name,
                         link=f"{settings.base_url}/s/confirm/{token}", company=company)
    from_email = mailing_list["from_email"] or await default_from_address(workspace_id)
    from_header = f"{mailing_list['from_name']} <{from_email}>" if mailing_list["from_name"] else from_email
    message = email_message(" ".join(from_header.split()), email, mail)
    await send_now(redis, workspace_id, [OutgoingMessage(
        workspace_id=workspace_id, mail_from=from_email, recipients=(email,), raw=message.as_bytes(),
        message_id=message["Message-ID"], subject=mail.subject, job="confirmation")])


@dataclass(frozen=True)
class Confirmation:
    """What a confirmation link asks for: this subscriber on this list; `done` once it is confirmed."""

    subscriber_id: int
    workspace_id: int
    mailing_list: dict
    done: bool


async def confirmation(redis: Redis, secret_key: str, token: str, ip: str) -> Confirmation | None:
    """The subscription a link would confirm, changing nothing; None when the link is expired or forged."""
    try:
        subscriber_id = _confirm_serializer(secret_key).loads(token, max_age=CONFIRM_MAX_AGE)
    except (BadSignature, SignatureExpired):
        await admit(redis, FORGED_LINK, ip=ip)
        return None
    row = await Subscriber.select(Subscriber.workspace_id, Subscriber.list_id, Subscriber.status).where(
        Subscriber.id == subscriber_id
    ).first()
    mailing_list = await MailingList.select().where(MailingList.id == row["list_id"]).first() if row else None
    if row is None or mailing_list is None:
        return None
    return Confirmation(subscriber_id, row["workspace_id"], mailing_list, done=row["status"] != "unconfirmed")


async def confirm(redis: Redis, secret_key: str, token: str, ip: str) -> Confirmation | None:
    """Confirm the subscription behind a link (the button of its page); None when expired or forged."""
    found = await confirmation(redis, secret_key, token, ip)
    if found is None:
        return None
    await admit(redis, MAILED_LINK, address=token)
    if not found.done:
        await change_status(found.workspace_id, SubscriberFilter(ids=[found.subscriber_id]), "confirmed",
                            "double-opt-in")
    return Confirmation(found.subscriber_id, found.workspace_id, found.mailing_list, done=True)


def address_from_unsubscribe_token(secret_key: str, token: str) -> tuple[int, str] | None:
    """(workspace, address) of an unsubscribe link of older mail, which named the address, not the delivery."""
    value = unsigned(secret_key, "unsubscribe", token)
    if not (isinstance(value, list) and len(value) == 2 and isinstance(value[0], int) and isinstance(value[1], str)):
        return None
    return value[0], value[1]
