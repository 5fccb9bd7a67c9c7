"""Subscribers: finding them fast at millions of rows, adding and editing them, their status lifecycle."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from email_validator import EmailNotValidError, validate_email

from app.db.audience import Subscriber, SubscriberStatusChange, Tag
from app.services.accounts import now
from app.services.custom_fields import cleaned_subscriber_fields, fields_of
from app.services.lists import STATUSES, ListError
from app.services.tenancy import checked_workspace_id, owned_by

PAGE_SIZE = 50
ENGAGEMENT = {
    "engaged": "s.last_open_at > now() - interval '30 days'",
    "inactive": "(s.last_open_at IS NULL OR s.last_open_at < now() - interval '90 days')",
    "never": "s.last_open_at IS NULL AND s.last_click_at IS NULL",
}


class SubscriberError(ListError):
    """Subscriber values that cannot be saved, by form field name."""


def normalized_email(address: str) -> str:
    """The canonical form every subscriber address is stored in: NFC, trimmed, lower-cased.

    Lower-casing the local part too is what mailbox providers do in practice,
    and it makes "Bob@" and "bob@" one subscriber.
    """
    text = unicodedata.normalize("NFC", address.strip())
    try:
        return validate_email(text, check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        raise SubscriberError({"email": str(exc)}) from exc


@dataclass
class SubscriberFilter:
    """What the subscriber table is narrowed to; also the target of bulk actions."""

    list_id: int | None = None
    query: str = ""
    status: str = ""
    tag_id: int | None = None
    added_from: date | None = None
    added_to: date | None = None
    engagement: str = ""
    ids: list[int] = field(default_factory=list)


@dataclass
class WhereClause:
    parts: list[str] = field(default_factory=list)
    params: list[Any] = field(default_factory=list)

    def add(self, sql: str, *params: Any) -> None:
        self.parts.append(sql)
        self.params.extend(params)

    @property
    def sql(self) -> str:
        return " AND ".join(self.parts)


def filter_sql(workspace_id: int, chosen: SubscriberFilter) -> WhereClause:
    """Fixed SQL fragments with `{}` placeholders; user values only ever travel as parameters."""
    where = WhereClause()
    where.add("s.workspace_id = {}", checked_workspace_id(workspace_id))
    if chosen.list_id:
        where.add("s.list_id = {}", chosen.list_id)
    if chosen.ids:
        where.add("s.id = ANY({})", [int(i) for i in chosen.ids])
    query = chosen.query.strip()
    if "=" in query:
        # "city=Paris" searches a custom field value through the GIN index.
        key, _, value = query.partition("=")
        where.add("s.fields @> jsonb_build_object({}::text, {}::text)", key.strip().lower(), value.strip())
    elif query:
        where.add("s.email LIKE {}", query.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%")
    if chosen.status in STATUSES:
        where.add("s.status = {}", chosen.status)
    if chosen.tag_id:
        where.add("EXISTS (SELECT 1 FROM subscriber_tags t WHERE t.subscriber_id = s.id AND t.tag_id = {})",
                  chosen.tag_id)
    if chosen.added_from:
        where.add("s.created_at >= {}", chosen.added_from)
    if chosen.added_to:
        where.add("s.created_at < {}::date + 1", chosen.added_to)
    if chosen.engagement in ENGAGEMENT:
        where.add(ENGAGEMENT[chosen.engagement])
    return where


async def search(
    workspace_id: int, chosen: SubscriberFilter, sort: str = "newest", after: str = "", limit: int = PAGE_SIZE
) -> tuple[list[dict], str]:
    """One page of subscribers and the cursor of the next page ("" when this is the last)."""
    where = filter_sql(workspace_id, chosen)
    if sort == "email":
        order = "s.email, s.id"
        if after:
            email, _, last_id = after.rpartition("|")
            where.add("(s.email, s.id) > ({}, {})", email, int(last_id or 0))
    else:
        order = "s.id DESC"
        if after.isdigit():
            where.add("s.id < {}", int(after))
    rows = await Subscriber.raw(
        "SELECT s.id, s.list_id, s.email, s.status, s.fields, s.created_at, s.last_open_at, s.last_click_at, "
        "s.engagement_score, l.name AS list_name FROM subscribers s JOIN lists l ON l.id = s.list_id "
        f"WHERE {where.sql} ORDER BY {order} LIMIT {{}}",
        *where.params, limit + 1,
    )
    more = len(rows) > limit
    rows = rows[:limit]
    cursor = ""
    if more and rows:
        last = rows[-1]
        cursor = f"{last['email']}|{last['id']}" if sort == "email" else str(last["id"])
    return rows, cursor


async def get_subscriber(workspace_id: int, subscriber_id: object) -> dict | None:
    try:
        pk = int(subscriber_id)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return None
    return await Subscriber.select().where(owned_by(Subscriber, workspace_id), Subscriber.id == pk).output(
        load_json=True
    ).first()


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


async def add_subscriber(
    workspace_id: int, list_id: int, raw: dict[str, Any], status: str = "confirmed", source: str = "manual",
    ip: str = "",
) -> dict:
    email, fields = await _cleaned(workspace_id, list_id, raw)
    if status not in STATUSES:
        raise SubscriberError({"status": "Choose a status."})
    if await Subscriber.exists().where(Subscriber.list_id == list_id, Subscriber.email == email):
        raise SubscriberError({"email": "This address is already on the list."})
    async with Subscriber._meta.db.transaction():
        rows = await Subscriber.insert(
            Subscriber(
                workspace_id=checked_workspace_id(workspace_id), list_id=list_id, email=email,
                email_domain=email.rpartition("@")[2], status=status, fields=fields, source=source, ip=ip,
                confirmed_at=now() if status == "confirmed" else None, created_at=now(), updated_at=now(),
            )
        ).returning(*Subscriber.all_columns())
        await SubscriberStatusChange.insert(
            SubscriberStatusChange(workspace_id=workspace_id, subscriber_id=rows[0]["id"], from_status="",
                                   to_status=status, source=source, created_at=now())
        )
    return rows[0]


async def update_subscriber(workspace_id: int, subscriber_id: int, raw: dict[str, Any]) -> dict:
    current = await get_subscriber(workspace_id, subscriber_id)
    if current is None:
        raise LookupError("subscriber")
    email, fields = await _cleaned(workspace_id, current["list_id"], raw)
    if email != current["email"] and await Subscriber.exists().where(
        Subscriber.list_id == current["list_id"], Subscriber.email == email
    ):
        raise SubscriberError({"email": "Another subscriber of this list has this address."})
    rows = await Subscriber.update(
        {Subscriber.email: email, Subscriber.email_domain: email.rpartition("@")[2], Subscriber.fields: fields,
         Subscriber.updated_at: now()}
    ).where(owned_by(Subscriber, workspace_id), Subscriber.id == subscriber_id).returning(*Subscriber.all_columns())
    return rows[0]


async def change_status(workspace_id: int, chosen: SubscriberFilter, to_status: str, source: str) -> int:
    """Move every matching subscriber to `to_status`, recording each change; returns how many changed."""
    if to_status not in STATUSES:
        raise SubscriberError({"status": "Choose a status."})
    where = filter_sql(workspace_id, chosen)
    rows = await Subscriber.raw(
        "WITH targets AS (SELECT s.id, s.status FROM subscribers s "
        f"WHERE {where.sql} AND s.status <> {{}} FOR UPDATE), "
        "changed AS (UPDATE subscribers u SET status = {}, updated_at = now(), "
        "confirmed_at = CASE WHEN {} = 'confirmed' THEN now() ELSE u.confirmed_at END, "
        "unsubscribed_at = CASE WHEN {} = 'unsubscribed' THEN now() ELSE u.unsubscribed_at END "
        "FROM targets t WHERE u.id = t.id RETURNING u.id, t.status AS from_status), "
        "history AS (INSERT INTO subscriber_status_changes (workspace_id, subscriber_id, from_status, to_status, "
        "source) SELECT {}, id, from_status, {}, {} FROM changed) SELECT count(*) AS changed FROM changed",
        *where.params, to_status, to_status, to_status, to_status, workspace_id, to_status, source,
    )
    return int(rows[0]["changed"])


async def status_history(workspace_id: int, subscriber_id: int) -> list[dict]:
    return await SubscriberStatusChange.select().where(
        owned_by(SubscriberStatusChange, workspace_id), SubscriberStatusChange.subscriber_id == subscriber_id
    ).order_by(SubscriberStatusChange.id, ascending=False)


async def tags_of(workspace_id: int, subscriber_id: int) -> list[str]:
    rows = await Tag.raw(
        "SELECT t.name FROM subscriber_tags st JOIN tags t ON t.id = st.tag_id "
        "WHERE st.workspace_id = {} AND st.subscriber_id = {} ORDER BY t.name",
        checked_workspace_id(workspace_id), subscriber_id,
    )
    return [row["name"] for row in rows]


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


async def activity(workspace_id: int, subscriber_id: int, limit: int = 50) -> list[dict]:
    """Sent, opened, clicked, bounced, converted: newest first."""
    return await Subscriber.raw(
        "SELECT kind, campaign_id, url, occurred_at FROM events WHERE workspace_id = {} AND subscriber_id = {} "
        "ORDER BY occurred_at DESC LIMIT {}",
        checked_workspace_id(workspace_id), subscriber_id, limit,
    )
