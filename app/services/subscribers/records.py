"""One subscriber: adding and editing them by hand, their tags, history and other lists (activity: timeline.py)."""

from __future__ import annotations

import unicodedata
from typing import Any

from asyncpg import UniqueViolationError
from email_validator import EmailNotValidError, validate_email

from app.db.audience import Subscriber, SubscriberStatusChange, Tag
from app.services.accounts import now
from app.services.automations import triggers as flow_triggers
from app.services.custom_fields import cleaned_subscriber_fields, fields_of
from app.services.lists import STATUSES, ListError, get_list
from app.services.tenancy import checked_workspace_id, owned_by, row_id
from app.services.webhooks import producers as webhook_events

ALREADY_ON_LIST = "This address is already on the list."


class SubscriberError(ListError):
    """Subscriber values that cannot be saved, by form field name."""


def normalized_email(address: str) -> str:
    """The canonical form every subscriber address is stored in: NFC, trimmed, lower-cased.

    Lower-casing the local part too is what mailbox providers do in practice,
    and it makes "Bob@" and "bob@" one subscriber.
    """
    text = unicodedata.normalize("NFC", address.strip())
    if not text:
        raise SubscriberError({"email": "Type an email address."})
    try:
        return validate_email(text, check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        raise SubscriberError({"email": str(exc)}) from exc


async def get_subscriber(workspace_id: int, subscriber_id: object) -> dict | None:
    """The subscriber with its fields as a dict, or None (also for an id no row can have)."""
    pk = row_id(Subscriber, subscriber_id)
    if pk is None:
        return None
    return await Subscriber.select().where(owned_by(Subscriber, workspace_id), Subscriber.id == pk).output(
        load_json=True).first()


async def subscriber_of(workspace_id: int, subscriber_id: object) -> dict:
    """The subscriber, or LookupError when this workspace has none with that id."""
    found = await get_subscriber(workspace_id, subscriber_id)
    if found is None:
        raise LookupError("subscriber")
    return found


async def _cleaned(workspace_id: int, list_id: int, raw: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The normalised address and typed field values; SubscriberError lists every problem at once."""
    errors: dict[str, str] = {}
    email = ""
    try:
        email = normalized_email(str(raw.get("email", "")))
    except SubscriberError as exc:
        errors.update(exc.errors)
    fields, field_errors = cleaned_subscriber_fields(await fields_of(workspace_id, list_id), raw)
    errors.update(field_errors)
    if errors:
        raise SubscriberError(errors)
    return email, fields


async def _list_for_new_subscriber(workspace_id: int, list_id: int | None) -> dict:
    if not list_id:
        raise SubscriberError({"list_id": "Choose a list."})
    mailing_list = await get_list(workspace_id, list_id)
    if mailing_list is None:
        raise LookupError("list")
    return mailing_list


async def add_subscriber(
    workspace_id: int, list_id: int | None, raw: dict[str, Any], status: str = "confirmed", source: str = "manual",
    ip: str = "",
) -> dict:
    """A new subscriber of a list of this workspace, with its first status change recorded."""
    mailing_list = await _list_for_new_subscriber(workspace_id, list_id)
    email, fields = await _cleaned(workspace_id, mailing_list["id"], raw)
    checked_status(status)
    if await Subscriber.exists().where(Subscriber.list_id == mailing_list["id"], Subscriber.email == email):
        raise SubscriberError({"email": ALREADY_ON_LIST})
    try:
        async with Subscriber._meta.db.transaction():
            rows = await Subscriber.insert(
                Subscriber(
                    workspace_id=checked_workspace_id(workspace_id), list_id=mailing_list["id"], email=email,
                    email_domain=email.rpartition("@")[2], status=status, fields=fields, source=source, ip=ip,
                    confirmed_at=now() if status == "confirmed" else None, created_at=now(), updated_at=now(),
                )
            ).returning(*Subscriber.all_columns())
            await SubscriberStatusChange.insert(
                SubscriberStatusChange(workspace_id=workspace_id, subscriber_id=rows[0]["id"], from_status="",
                                       to_status=status, source=source, created_at=now())
            )
    except UniqueViolationError as exc:
        # Someone (an import, the form) added the same address since the check above.
        raise SubscriberError({"email": ALREADY_ON_LIST}) from exc
    await webhook_events.subscriber_added(workspace_id, rows[0])
    await flow_triggers.subscribers_added(workspace_id, rows[0]["list_id"], status, [rows[0]["id"]])
    return rows[0]


async def update_subscriber(workspace_id: int, subscriber_id: int, raw: dict[str, Any]) -> dict:
    current = await subscriber_of(workspace_id, subscriber_id)
    email, fields = await _cleaned(workspace_id, current["list_id"], raw)
    taken = SubscriberError({"email": "Another subscriber of this list has this address."})
    if email != current["email"] and await Subscriber.exists().where(
        Subscriber.list_id == current["list_id"], Subscriber.email == email
    ):
        raise taken
    try:
        rows = await Subscriber.update(
            {Subscriber.email: email, Subscriber.email_domain: email.rpartition("@")[2], Subscriber.fields: fields,
             Subscriber.updated_at: now()}
        ).where(owned_by(Subscriber, workspace_id), Subscriber.id == subscriber_id).returning(
            *Subscriber.all_columns())
    except UniqueViolationError as exc:
        raise taken from exc
    await flow_triggers.fields_changed(workspace_id, [(current["id"], current["fields"], fields)])
    return rows[0]


async def address_on_file(workspace_id: int, typed: str) -> str:
    """A typed address as stored, when some list of this workspace has it (for privacy requests)."""
    email = normalized_email(typed)
    if not await Subscriber.exists().where(owned_by(Subscriber, workspace_id), Subscriber.email == email):
        raise SubscriberError({"email": "No list of this workspace has this address."})
    return email


def checked_status(status: str) -> str:
    if status not in STATUSES:
        raise SubscriberError({"status": "Choose a status."})
    return status


async def status_history(workspace_id: int, subscriber_id: int) -> list[dict]:
    return await SubscriberStatusChange.select().where(
        owned_by(SubscriberStatusChange, workspace_id), SubscriberStatusChange.subscriber_id == subscriber_id
    ).order_by(SubscriberStatusChange.id, ascending=False)


async def tags_of(workspace_id: int, subscriber_id: int) -> list[str]:
    return (await tags_by_subscriber(workspace_id, [subscriber_id]))[subscriber_id]


async def tags_by_subscriber(workspace_id: int, subscriber_ids: list[int]) -> dict[int, list[str]]:
    """Each subscriber's tag names (sorted), for a page of subscribers in one query."""
    if not subscriber_ids:
        return {}
    rows = await Tag.raw(
        "SELECT st.subscriber_id, array_agg(t.name ORDER BY t.name) AS names FROM subscriber_tags st "
        "JOIN tags t ON t.id = st.tag_id WHERE st.workspace_id = {} AND st.subscriber_id = ANY({}::bigint[]) "
        "GROUP BY st.subscriber_id",
        checked_workspace_id(workspace_id), subscriber_ids,
    )
    found = {row["subscriber_id"]: list(row["names"]) for row in rows}
    return {subscriber_id: found.get(subscriber_id, []) for subscriber_id in subscriber_ids}


async def workspace_tags(workspace_id: int) -> list[dict]:
    return await Tag.select().where(owned_by(Tag, workspace_id)).order_by(Tag.name)


async def ensure_tag(workspace_id: int, name: str) -> int:
    name = name.strip()[:64]
    if not name:
        raise SubscriberError({"tag": "Give the tag a name."})
    rows = await Tag.raw(
        "INSERT INTO tags (workspace_id, name) VALUES ({}, {}) ON CONFLICT (workspace_id, name) "
        "DO UPDATE SET name = excluded.name RETURNING id",
        checked_workspace_id(workspace_id), name,
    )
    return rows[0]["id"]


async def memberships(workspace_id: int, email: str) -> list[dict]:
    """Every list of the workspace this address is on, with its status there."""
    return await Subscriber.raw(
        "SELECT s.id, s.list_id, l.name AS list_name, s.status, s.created_at FROM subscribers s "
        "JOIN lists l ON l.id = s.list_id WHERE s.workspace_id = {} AND s.email = {} ORDER BY l.name",
        checked_workspace_id(workspace_id), email,
    )

