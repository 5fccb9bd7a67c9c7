"""Public subscribe forms, double opt-in confirmation, and one-link unsubscribe from every list."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from app.db.audience import MailingList, Subscriber
from app.services.subscribers import (
    SubscriberFilter,
    add_subscriber,
    change_status,
    normalized_email,
)
from app.services.system_mail import send_system_message
from app.services.tokens import signed, unsigned
from app.settings import Settings

CONFIRM_MAX_AGE = 7 * 86400


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


async def subscribe(settings: Settings, mailing_list: dict, raw: dict[str, Any], ip: str) -> SubscribeOutcome:
    """Add the address from a public form; double opt-in lists email a confirmation link first.

    An address already on the list gets the same answer as a new one, so the
    form reveals nothing about who is subscribed.
    """
    workspace_id, list_id = mailing_list["workspace_id"], mailing_list["id"]
    email = normalized_email(str(raw.get("email", "")))
    double = mailing_list["opt_in"] == "double"
    existing = await Subscriber.select(Subscriber.id).where(Subscriber.list_id == list_id,
                                                            Subscriber.email == email).first()
    if existing:
        return SubscribeOutcome(needs_confirmation=double, subscriber_id=None)
    created = await add_subscriber(workspace_id, list_id, {**raw, "email": email},
                                   status="unconfirmed" if double else "confirmed", source="form", ip=ip)
    if double:
        token = _confirm_serializer(settings.security.secret_key).dumps(created["id"])
        link = f"{settings.base_url}/s/confirm/{token}"
        name = mailing_list["display_name"] or mailing_list["name"]
        await send_system_message(
            workspace_id, email, f"Please confirm your subscription to {name}",
            f"Confirm your subscription to {name}:\n{link}\n\nIf you did not ask for this, ignore this email.",
            f'<p>Confirm your subscription to <strong>{name}</strong>:</p><p><a href="{link}">Yes, subscribe me</a></p>'
            "<p>If you did not ask for this, ignore this email.</p>",
        )
    return SubscribeOutcome(needs_confirmation=double, subscriber_id=created["id"])


async def confirm(secret_key: str, token: str) -> dict | None:
    """Confirm the subscription behind a link; None when the link is expired or forged."""
    try:
        subscriber_id = _confirm_serializer(secret_key).loads(token, max_age=CONFIRM_MAX_AGE)
    except (BadSignature, SignatureExpired):
        return None
    row = await Subscriber.select(Subscriber.workspace_id, Subscriber.list_id, Subscriber.status).where(
        Subscriber.id == subscriber_id
    ).first()
    if row is None:
        return None
    if row["status"] == "unconfirmed":
        await change_status(row["workspace_id"], SubscriberFilter(ids=[subscriber_id]), "confirmed", "double-opt-in")
    return await MailingList.select().where(MailingList.id == row["list_id"]).first()


async def unsubscribe_everywhere(secret_key: str, token: str) -> int | None:
    """Unsubscribe the address in the link from every list of its workspace; None for a forged link."""
    value = unsigned(secret_key, "unsubscribe", token)
    if not (isinstance(value, list) and len(value) == 2):
        return None
    workspace_id, email = value
    rows = await Subscriber.select(Subscriber.id).where(Subscriber.workspace_id == workspace_id,
                                                        Subscriber.email == email, Subscriber.status != "unsubscribed")
    if not rows:
        return 0
    return await change_status(workspace_id, SubscriberFilter(ids=[r["id"] for r in rows]), "unsubscribed",
                               "unsubscribe-link")
