"""Events other systems post about a subscriber (`POST /api/v1/events`, e.g. `viewed_offer`), and the answer to
"did X happen within N minutes" for any event name a flow may name.

A posted event is stored for every subscriber row it names (one by id, or every list's row of an address), then
starts the flows whose trigger is that event and wakes the enrolments waiting for it (triggers.py). The names
the platform itself records (opens, clicks, conversions, subscribing, confirming) cannot be posted: a flow
that waits for an open must only ever be woken by one.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from app.db.audience import Subscriber
from app.services.automations import triggers
from app.services.forms import FormError
from app.services.sqlparams import fetch_positional
from app.services.subscribers import normalized_email
from app.services.tenancy import checked_workspace_id, owned_by, row_id

# The events the platform records itself, and where: tracking's `events` kinds, subscribers' status history.
TRACKED = {"opened": "open", "clicked": "click", "converted": "conversion"}
STATUS_EVENTS = {"subscribed": "confirmed", "confirmed": "confirmed"}
BUILT_IN = frozenset({*TRACKED, *STATUS_EVENTS})
NAME = re.compile(r"[A-Za-z][A-Za-z0-9_.:-]{0,63}\Z")
MAX_PROPERTIES_BYTES = 16 * 1024
# A sender's clock may run a little ahead; an event further in the future is a mistake.
CLOCK_SKEW = timedelta(minutes=5)

INSERT = """
INSERT INTO subscriber_events (workspace_id, subscriber_id, name, properties, occurred_at)
SELECT $1::int, id, $3::text, $4::jsonb, $5::timestamptz FROM unnest($2::bigint[]) id
"""
HAD_CUSTOM = """
SELECT DISTINCT s.id FROM unnest($2::bigint[]) s(id)
WHERE EXISTS (SELECT 1 FROM subscriber_events e WHERE e.subscriber_id = s.id AND e.name = $3::text
              AND e.occurred_at >= $4::timestamptz AND e.workspace_id = $1::int)
"""
HAD_TRACKED = """
SELECT DISTINCT s.id FROM unnest($2::bigint[]) s(id)
WHERE EXISTS (SELECT 1 FROM events e WHERE e.subscriber_id = s.id AND e.kind = $3::text
              AND e.occurred_at >= $4::timestamptz AND e.workspace_id = $1::int)
"""
HAD_STATUS = """
SELECT DISTINCT s.id FROM unnest($2::bigint[]) s(id)
WHERE EXISTS (SELECT 1 FROM subscriber_status_changes h WHERE h.subscriber_id = s.id AND h.to_status = $3::text
              AND h.created_at >= $4::timestamptz AND h.workspace_id = $1::int)
"""


@dataclass(frozen=True)
class Posted:
    """A stored event: the subscriber rows it was stored for, and what it started and woke."""

    name: str
    subscriber_ids: list[int]
    occurred_at: datetime
    enrolled: int
    woken: int


def checked_name(name: str) -> str:
    """A custom event's name, or FormError: letters, digits and `_ . : -`, not one the platform records."""
    if not NAME.match(name):
        raise FormError({"name": "Name the event with up to 64 letters, digits, _ . : or -, starting with a "
                                 "letter (e.g. viewed_offer)."})
    if name in BUILT_IN:
        raise FormError({"name": f"“{name}” is recorded by Ignite itself and cannot be posted."})
    return name


def _properties_json(properties: Mapping[str, Any]) -> str:
    text = json.dumps(dict(properties), ensure_ascii=False, default=str)
    if len(text.encode()) > MAX_PROPERTIES_BYTES:
        raise FormError({"properties": f"Keep the properties under {MAX_PROPERTIES_BYTES // 1024} KB of JSON."})
    return text


def _when(occurred_at: datetime | None, now: datetime) -> datetime:
    if occurred_at is None:
        return now
    if occurred_at.tzinfo is None:
        raise FormError({"occurred_at": "Give the time with its offset, e.g. 2026-12-01T10:00:00Z."})
    if occurred_at > now + CLOCK_SKEW:
        raise FormError({"occurred_at": "The event cannot have happened in the future."})
    return occurred_at


async def named_subscribers(workspace_id: int, *, subscriber_id: int | None = None, email: str = "",
                            list_id: int | None = None) -> list[int]:
    """The subscriber rows an event names: one by id, else every list's row of the address (or the one on
    `list_id`); LookupError when this workspace has none, FormError when neither is given."""
    if subscriber_id is not None:
        pk = row_id(Subscriber, subscriber_id)
        found = pk is not None and await Subscriber.exists().where(owned_by(Subscriber, workspace_id),
                                                                   Subscriber.id == pk)
        if not found:
            raise LookupError("subscriber")
        return [pk]
    if not email.strip():
        raise FormError({"subscriber_id": "Name the subscriber by id or by email address."})
    query = Subscriber.select(Subscriber.id).where(owned_by(Subscriber, workspace_id),
                                                  Subscriber.email == normalized_email(email))
    if list_id is not None:
        query = query.where(Subscriber.list_id == list_id)
    rows = await query.order_by(Subscriber.id)
    if not rows:
        raise LookupError("subscriber")
    return [row["id"] for row in rows]


async def post_event(workspace_id: int, name: str, *, subscriber_id: int | None = None, email: str = "",
                     list_id: int | None = None, properties: Mapping[str, Any] | None = None,
                     occurred_at: datetime | None = None, now: datetime) -> Posted:
    """Store the event for the subscribers it names (`named_subscribers`), then start and wake flows on it;
    FormError (nothing stored) for a name, properties or time that cannot be taken."""
    name = checked_name(name)
    text = _properties_json(properties or {})
    when = _when(occurred_at, now)
    subscriber_ids = await named_subscribers(workspace_id, subscriber_id=subscriber_id, email=email,
                                             list_id=list_id)
    await fetch_positional(INSERT, [checked_workspace_id(workspace_id), subscriber_ids, name, text, when])
    fired = await triggers.custom_event(workspace_id, name, subscriber_ids, now=now)
    return Posted(name, subscriber_ids, when, fired.enrolled, fired.woken)


async def had_event(workspace_id: int, subscriber_ids: Collection[int], name: str, since: datetime) -> set[int]:
    """Those of the subscribers to whom the event happened at or after `since`, whatever its source: tracking's
    opens, clicks and conversions, confirming (and subscribing: becoming confirmed), or a posted event."""
    if not subscriber_ids:
        return set()
    if name in TRACKED:
        sql, kind = HAD_TRACKED, TRACKED[name]
    elif name in STATUS_EVENTS:
        sql, kind = HAD_STATUS, STATUS_EVENTS[name]
    else:
        sql, kind = HAD_CUSTOM, name
    rows = await fetch_positional(sql, [checked_workspace_id(workspace_id), list(subscriber_ids), kind, since])
    return {row["id"] for row in rows}
