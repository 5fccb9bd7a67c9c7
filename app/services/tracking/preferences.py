"""The preference centre: the lists an address is on, and the fields of the list its message came from.

A person reaches it from the unsubscribe page of a message (or of an older link). They may leave or rejoin
the lists whose status is theirs to choose (a bounced, complained or blacklisted row is the sender's) and
edit the fields their list shows on its forms; hidden fields keep their values. Every value is checked
before anything is written, so bad input changes nothing and the form comes back with a message next to
each field. Leaving lists here is an unsubscribe like any other (event, campaign figure); rejoining
confirms the row, since the link came in a message to this address.

The form names the lists it showed (`shown`): a list joined in another tab meanwhile is left alone
rather than taken for one the person unticked.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis

from app.db.audience import Subscriber
from app.piccolo_conf import DB
from app.services.accounts import now
from app.services.custom_fields import cleaned_subscriber_fields, fields_of
from app.services.forms import FormError
from app.services.subscribers import SubscriberFilter, change_status
from app.services.tenancy import owned_by
from app.services.tracking.recipients import (
    CHANGEABLE,
    SOURCES,
    Membership,
    Recipient,
    Visit,
    after_unsubscribe,
    left_lists,
    memberships,
)

SHOWN = "shown"
CHOSEN = "chosen"


@dataclass(frozen=True)
class PreferenceForm:
    lists: list[Membership]
    fields: list[dict]
    values: dict[str, str]
    own: Membership | None


@dataclass(frozen=True)
class Saved:
    left: list[str]
    joined: list[str]
    fields_changed: bool


def list_input(row: Membership) -> str:
    return f"list_{row.list_id}"


def _shown_values(fields: list[dict], stored: dict[str, Any]) -> dict[str, str]:
    """Stored field values as the form shows them (checkboxes as "true"/"false")."""
    values = {}
    for field in fields:
        value = stored.get(field["tag"])
        if value is not None:
            values[f"field_{field['tag']}"] = ("true" if value else "false") if isinstance(value, bool) else str(value)
    return values


async def preference_form(recipient: Recipient) -> PreferenceForm:
    """The lists the person may change (ticked when subscribed) and their list's visible fields, filled in."""
    rows = await memberships(recipient)
    shown = [row for row in rows if row.status in CHANGEABLE and not row.archived]
    own = next((row for row in rows if row.subscriber_id == recipient.subscriber_id), None)
    fields = [f for f in await fields_of(recipient.workspace_id, own.list_id) if f["visible"]] if own else []
    values = {list_input(row): "on" for row in shown if row.subscribed}
    values[SHOWN] = ",".join(str(row.list_id) for row in shown)
    values.update(_shown_values(fields, own.fields if own else {}))
    return PreferenceForm(shown, fields, values, own)


def _shown_ids(raw: dict[str, Any]) -> set[int]:
    return {int(part) for part in str(raw.get(SHOWN, "")).split(",") if part.strip().isdigit()}


def _checked_lists(form: PreferenceForm, raw: dict[str, Any]) -> set[int]:
    """The lists ticked; a list that is not one of the person's is a LookupError (a tampered form)."""
    mine = {row.list_id for row in form.lists}
    ticked = set()
    for name in raw:
        if name.startswith("list_"):
            list_id = int(name[5:]) if name[5:].isdigit() else -1
            if list_id not in mine:
                raise LookupError("list")
            ticked.add(list_id)
    return ticked


def _changed_fields(form: PreferenceForm, raw: dict[str, Any]) -> dict[str, Any] | None:
    """The row's fields after the edit (hidden ones kept), None when unchanged; FormError for bad values."""
    if form.own is None or not form.fields:
        return None
    values, errors = cleaned_subscriber_fields(form.fields, raw)
    if errors:
        raise FormError(errors)
    visible = {field["tag"] for field in form.fields}
    merged = {**{tag: value for tag, value in form.own.fields.items() if tag not in visible}, **values}
    return merged if merged != form.own.fields else None


async def save_preferences(redis: Redis, recipient: Recipient, raw: dict[str, Any], visit: Visit) -> Saved:
    """Apply the submitted preferences: lists left and rejoined, the fields edited, all in one transaction."""
    form = await preference_form(recipient)
    ticked = _checked_lists(form, raw)
    fields = _changed_fields(form, raw)
    shown = _shown_ids(raw)
    leaving = [row for row in form.lists if row.subscribed and row.list_id in shown - ticked]
    joining = [row for row in form.lists if not row.subscribed and row.list_id in shown & ticked]
    async with DB.transaction():
        figure = await left_lists(recipient, leaving, CHOSEN, visit)
        if joining:
            await change_status(recipient.workspace_id, SubscriberFilter(ids=[row.subscriber_id for row in joining]),
                                "confirmed", SOURCES[visit.via])
        if fields is not None and form.own is not None:
            await Subscriber.update({Subscriber.fields: fields, Subscriber.updated_at: now()}).where(
                owned_by(Subscriber, recipient.workspace_id), Subscriber.id == form.own.subscriber_id)
    await after_unsubscribe(redis, recipient, leaving, figure)
    return Saved([row.list_name for row in leaving], [row.list_name for row in joining], fields is not None)
