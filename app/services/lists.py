"""Mailing lists: settings, lifecycle (archive, copy, delete) and the statistics shown on list pages."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from email_validator import EmailNotValidError, validate_email

from app.db.audience import ListCounter, ListField, MailingList
from app.services.accounts import now
from app.services.forms import FormError
from app.services.tenancy import checked_workspace_id, fetch_owned, owned_by

EDITABLE = (
    "name", "display_name", "description", "from_name", "from_email", "reply_to", "company_name",
    "company_address", "opt_in", "opt_out", "welcome_email", "require_approval",
)
STATUSES = ("unconfirmed", "confirmed", "unsubscribed", "bounced", "complained", "blacklisted")


class ListError(FormError):
    """Form values that cannot be saved, by field name."""


@dataclass(frozen=True)
class GrowthPoint:
    day: date
    joined: int
    left: int


def cleaned_list_values(raw: dict[str, Any]) -> dict[str, Any]:
    """The list settings from a form, normalised; ListError names every bad field."""
    values: dict[str, Any] = {key: str(raw.get(key, "") or "").strip() for key in EDITABLE}
    values["welcome_email"] = raw.get("welcome_email") in ("on", "true", True, "1")
    values["require_approval"] = raw.get("require_approval") in ("on", "true", True, "1")
    errors: dict[str, str] = {}
    if not values["name"]:
        errors["name"] = "Give the list a name."
    elif len(values["name"]) > 120:
        errors["name"] = "Use at most 120 characters."
    for key in ("from_email", "reply_to"):
        if values[key]:
            try:
                values[key] = validate_email(values[key], check_deliverability=False).normalized
            except EmailNotValidError as exc:
                errors[key] = str(exc)
    for key in ("opt_in", "opt_out"):
        values[key] = values[key] or "single"
        if values[key] not in ("single", "double"):
            errors[key] = "Choose single or double."
    if errors:
        raise ListError(errors)
    return values


async def _name_taken(workspace_id: int, name: str, except_id: int | None = None) -> bool:
    query = MailingList.exists().where(owned_by(MailingList, workspace_id), MailingList.name == name)
    if except_id is not None:
        query = query.where(MailingList.id != except_id)
    return await query


async def create_list(workspace_id: int, raw: dict[str, Any]) -> dict:
    values = cleaned_list_values(raw)
    if await _name_taken(workspace_id, values["name"]):
        raise ListError({"name": "Another list already has this name."})
    async with MailingList._meta.db.transaction():
        rows = await MailingList.insert(
            MailingList(workspace_id=checked_workspace_id(workspace_id), created_at=now(), updated_at=now(), **values)
        ).returning(*MailingList.all_columns())
        await ListCounter.insert(ListCounter(list_id=rows[0]["id"], workspace_id=workspace_id))
    return rows[0]


async def update_list(workspace_id: int, list_id: int, raw: dict[str, Any]) -> dict:
    values = cleaned_list_values(raw)
    if await _name_taken(workspace_id, values["name"], except_id=list_id):
        raise ListError({"name": "Another list already has this name."})
    rows = await MailingList.update({**values, "updated_at": now()}).where(
        owned_by(MailingList, workspace_id), MailingList.id == list_id
    ).returning(*MailingList.all_columns())
    if not rows:
        raise LookupError("list")
    return rows[0]


async def set_archived(workspace_id: int, list_id: int, archived: bool) -> None:
    rows = await MailingList.update({MailingList.archived_at: now() if archived else None}).where(
        owned_by(MailingList, workspace_id), MailingList.id == list_id
    ).returning(MailingList.id)
    if not rows:
        raise LookupError("list")


async def delete_list(workspace_id: int, list_id: int) -> dict:
    rows = await MailingList.delete().where(owned_by(MailingList, workspace_id), MailingList.id == list_id).returning(
        MailingList.id, MailingList.name
    )
    if not rows:
        raise LookupError("list")
    return rows[0]


async def copy_list(workspace_id: int, list_id: int, new_name: str, with_subscribers: bool) -> dict:
    """A new list with the same settings and fields, and optionally the same subscribers."""
    source = await get_list(workspace_id, list_id)
    if source is None:
        raise LookupError("list")
    settings = {key: source[key] for key in EDITABLE}
    async with MailingList._meta.db.transaction():
        copy = await create_list(workspace_id, {**settings, "name": new_name,
                                                "welcome_email": "on" if source["welcome_email"] else "",
                                                "require_approval": "on" if source["require_approval"] else ""})
        await MailingList.raw(
            "INSERT INTO list_fields (workspace_id, list_id, label, tag, kind, required, default_value, options, "
            "visible, position) SELECT workspace_id, {}, label, tag, kind, required, default_value, options, visible, "
            "position FROM list_fields WHERE workspace_id = {} AND list_id = {}",
            copy["id"], workspace_id, list_id,
        )
        if with_subscribers:
            await MailingList.raw(
                "INSERT INTO subscribers (workspace_id, list_id, email, email_domain, status, fields, source, ip, "
                "engagement_score, last_open_at, last_click_at, confirmed_at, unsubscribed_at) "
                "SELECT workspace_id, {}, email, email_domain, status, fields, 'copy', ip, engagement_score, "
                "last_open_at, last_click_at, confirmed_at, unsubscribed_at FROM subscribers "
                "WHERE workspace_id = {} AND list_id = {}",
                copy["id"], workspace_id, list_id,
            )
    return copy


async def get_list(workspace_id: int, list_id: object) -> dict | None:
    return await fetch_owned(MailingList, workspace_id, list_id)


async def lists_with_counts(workspace_id: int, include_archived: bool = False) -> list[dict]:
    """Every list with its counters; counters are maintained by triggers, never counted here."""
    archived = "" if include_archived else "AND l.archived_at IS NULL"
    return await MailingList.raw(
        "SELECT l.*, coalesce(c.total, 0) AS total, coalesce(c.confirmed, 0) AS confirmed, "
        "coalesce(c.unconfirmed, 0) AS unconfirmed, coalesce(c.unsubscribed, 0) AS unsubscribed, "
        "coalesce(c.bounced, 0) AS bounced, coalesce(c.complained, 0) AS complained, "
        "coalesce(c.blacklisted, 0) AS blacklisted "
        f"FROM lists l LEFT JOIN list_counters c ON c.list_id = l.id WHERE l.workspace_id = {{}} {archived} "
        "ORDER BY l.archived_at NULLS FIRST, l.name",
        checked_workspace_id(workspace_id),
    )


async def counters(workspace_id: int, list_id: int) -> dict[str, int]:
    """Subscribers of the list by status, from the counters the triggers keep; "blacklisted" also counts those
    an entry of the blacklist matches, whatever their status, as their profiles and the table say."""
    # Imported here: the suppression service loads the subscribers service, which needs this module first.
    from app.services.suppression.mailable import blacklisted_by_rule

    row = await ListCounter.select().where(owned_by(ListCounter, workspace_id), ListCounter.list_id == list_id).first()
    counted = {key: int(row[key]) if row else 0 for key in ("total", *STATUSES)}
    counted["blacklisted"] += await blacklisted_by_rule(workspace_id, list_id)
    return counted


async def growth(workspace_id: int, list_id: int, days: int = 30) -> list[GrowthPoint]:
    """Joins and leaves per day for the last `days` days, zero-filled."""
    rows = await MailingList.raw(
        "SELECT day, joined, left_list FROM list_daily_stats WHERE workspace_id = {} AND list_id = {} "
        "AND day > (now() AT TIME ZONE 'UTC')::date - {}::int",
        checked_workspace_id(workspace_id), list_id, days,
    )
    by_day = {row["day"]: row for row in rows}
    today = now().date()
    points = []
    for offset in range(days - 1, -1, -1):
        day = today - timedelta(days=offset)
        row = by_day.get(day)
        points.append(GrowthPoint(day, int(row["joined"]) if row else 0, int(row["left_list"]) if row else 0))
    return points


async def field_count(workspace_id: int, list_id: int) -> int:
    return await ListField.count().where(owned_by(ListField, workspace_id), ListField.list_id == list_id)


async def lists_after(workspace_id: int, after_id: int | None, limit: int) -> list[dict]:
    """Up to `limit` lists (archived too) with their counters, by id after `after_id`: a keyset page (the API)."""
    return await MailingList.raw(
        "SELECT l.*, coalesce(c.total, 0) AS total, coalesce(c.confirmed, 0) AS confirmed, "
        "coalesce(c.unconfirmed, 0) AS unconfirmed, coalesce(c.unsubscribed, 0) AS unsubscribed, "
        "coalesce(c.bounced, 0) AS bounced, coalesce(c.complained, 0) AS complained, "
        "coalesce(c.blacklisted, 0) AS blacklisted "
        "FROM lists l LEFT JOIN list_counters c ON c.list_id = l.id WHERE l.workspace_id = {} AND l.id > {} "
        "ORDER BY l.id LIMIT {}",
        checked_workspace_id(workspace_id), after_id or 0, limit,
    )
