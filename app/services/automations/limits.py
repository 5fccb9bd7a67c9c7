"""The workspace's marketing limits: at most N marketing emails per person per local day, and quiet hours.

The cap counts a person's marketing emails (campaigns and flows, never transactional messages) sent during
their local day, and those still waiting to go before it ends; people are matched by address, so someone on
two lists is one person. Flow emails wait (`later`) for the next local day when the cap is reached, and for
the end of quiet hours; a campaign's message over the cap is not sent (see `capped_deliveries`, applied when a
batch is claimed). Each process keeps a workspace's limits a few seconds, so the send path asks the database
once per workspace and interval, and a change holds everywhere within `KEEP_SECONDS`.
"""

from __future__ import annotations

import time as clock
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from app.services import statements
from app.services.campaigns.send_times import clock_minutes, recipient_zone, workspace_zone
from app.services.form_input import whole_number
from app.services.forms import FormError
from app.services.tenancy import checked_workspace_id

KEEP_SECONDS = 5.0
MOST_PER_DAY = 100
FREQUENCY_CAPPED = "not sent: the recipient reached the workspace's daily limit of marketing emails"
_KEPT: dict[int, tuple[float, Limits]] = {}


class LimitsError(FormError):
    """Marketing limits that cannot be saved, by form field."""


@dataclass(frozen=True)
class Limits:
    """None: no cap, no quiet hours. Quiet hours are minutes of the recipient's day; start > end wraps."""

    max_per_day: int | None = None
    quiet_start: int | None = None
    quiet_end: int | None = None

    @property
    def any(self) -> bool:
        return self.max_per_day is not None or self.quiet_start is not None

    def quiet_until(self, moment: datetime, zone: ZoneInfo) -> datetime | None:
        """When quiet hours end, if `moment` falls inside them in `zone`; None when it does not."""
        if self.quiet_start is None or self.quiet_end is None:
            return None
        local = moment.astimezone(zone)
        minute = local.hour * 60 + local.minute
        start, end = self.quiet_start, self.quiet_end
        inside = start <= minute < end if start < end else minute >= start or minute < end
        if not inside:
            return None
        ends = datetime.combine(local.date(), time(end // 60, end % 60), zone)
        if ends <= local:
            ends = datetime.combine(local.date() + timedelta(days=1), time(end // 60, end % 60), zone)
        return ends.astimezone(UTC)


def _clock(minutes: int | None) -> str:
    return "" if minutes is None else f"{minutes // 60:02d}:{minutes % 60:02d}"


async def current_limits(workspace_id: int) -> Limits:
    """The workspace's limits, read at most once per `KEEP_SECONDS` in this process."""
    kept = _KEPT.get(workspace_id)
    if kept is not None and kept[0] > clock.monotonic():
        return kept[1]
    rows = await statements.run("flow_sending.limits", checked_workspace_id(workspace_id))
    found = Limits(rows[0]["max_per_day"], rows[0]["quiet_start"], rows[0]["quiet_end"]) if rows else Limits()
    _KEPT[workspace_id] = (clock.monotonic() + KEEP_SECONDS, found)
    return found


async def get_limits(workspace_id: int) -> dict[str, Any]:
    """The limits as the settings form shows them: the cap ("" for none) and quiet hours as HH:MM."""
    _KEPT.pop(workspace_id, None)
    found = await current_limits(workspace_id)
    return {"max_per_day": "" if found.max_per_day is None else str(found.max_per_day),
            "quiet_start": _clock(found.quiet_start), "quiet_end": _clock(found.quiet_end)}


def _quiet_minutes(raw: Mapping[str, Any], errors: dict[str, str]) -> tuple[int | None, int | None]:
    found: dict[str, int | None] = {}
    for name in ("quiet_start", "quiet_end"):
        text = str(raw.get(name) or "").strip()
        try:
            found[name] = clock_minutes(text) if text else None
        except ValueError:
            errors[name] = "Enter a time of day as HH:MM, for example 21:00."
    start, end = found.get("quiet_start"), found.get("quiet_end")
    if errors:
        return None, None
    if (start is None) != (end is None):
        errors["quiet_end" if end is None else "quiet_start"] = "Enter both the start and the end of quiet hours."
    elif start is not None and start == end:
        errors["quiet_end"] = "Quiet hours must end at another time than they start."
    return start, end


async def save_limits(workspace_id: int, values: Mapping[str, Any]) -> dict[str, Any]:
    """Store the form's limits (empty fields: no limit); LimitsError names each field at fault."""
    errors: dict[str, str] = {}
    try:
        most = whole_number(values.get("max_per_day"), "max_per_day", LimitsError,
                            f"Enter a whole number from 1 to {MOST_PER_DAY}, or leave it empty for no limit.",
                            low=1, high=MOST_PER_DAY)
    except LimitsError as exc:
        errors.update(exc.errors)
        most = None
    start, end = _quiet_minutes(values, errors)
    if errors:
        raise LimitsError(errors)
    await statements.run("flow_sending.save-limits", checked_workspace_id(workspace_id), most, start, end)
    _KEPT.pop(workspace_id, None)
    return await get_limits(workspace_id)


def day_bounds(moment: datetime, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The start and end (UTC) of the local day in `zone` that holds `moment`."""
    day = moment.astimezone(zone).date()
    start = datetime.combine(day, time(0), zone)
    return start.astimezone(UTC), datetime.combine(day + timedelta(days=1), time(0), zone).astimezone(UTC)


@dataclass(frozen=True)
class Person:
    """A recipient as the limits see them: their address and the zone their day is read in."""

    key: int
    email: str
    zone: ZoneInfo


def people(subscribers: Iterable[Mapping[str, Any]], zone_name: str) -> list[Person]:
    """Subscriber rows (id, email, timezone, fields) as `Person`s, keyed by subscriber id."""
    return [Person(row["id"], row["email"], recipient_zone(row.get("timezone") or "", row.get("fields") or {},
                                                            zone_name)) for row in subscribers]


async def _sent_today(workspace_id: int, persons: Sequence[Person], moment: datetime,
                      not_counted: Sequence[int]) -> Counter[str]:
    """Marketing emails per address sent during its local day, or waiting to go before it ends."""
    if not persons:
        return Counter()
    bounds = [day_bounds(moment, person.zone) for person in persons]
    rows = await statements.run("flow_sending.sends-today", checked_workspace_id(workspace_id),
                                [person.email for person in persons], [start for start, _ in bounds],
                                [end for _, end in bounds], list(not_counted))
    return Counter({row["email"]: row["n"] for row in rows})


async def held_until(workspace_id: int, persons: Sequence[Person], moment: datetime) -> dict[int, datetime]:
    """When each person held back by quiet hours or the daily cap may be mailed; people free now are left out.

    The people of one call are counted together: two of them at one address share its allowance.
    """
    limits = await current_limits(workspace_id)
    if not limits.any:
        return {}
    held: dict[int, datetime] = {}
    for person in persons:
        if (until := limits.quiet_until(moment, person.zone)) is not None:
            held[person.key] = until
    if limits.max_per_day is None:
        return held
    free = [person for person in persons if person.key not in held]
    counted = await _sent_today(workspace_id, free, moment, ())
    for person in free:
        if counted[person.email] >= limits.max_per_day:
            next_day = day_bounds(moment, person.zone)[1]
            held[person.key] = limits.quiet_until(next_day, person.zone) or next_day
        else:
            counted[person.email] += 1
    return held


async def capped_deliveries(workspace_id: int, rows: Sequence[Mapping[str, Any]],
                            subscribers: Mapping[int, Mapping[str, Any]], moment: datetime | None = None) -> set[int]:
    """The ids of a campaign batch's rows (id, subscriber_id, email) over their recipient's daily cap.

    The batch's own rows are not counted as waiting; among them, the earlier ones take the allowance first.
    """
    limits = await current_limits(workspace_id)
    if limits.max_per_day is None or not rows:
        return set()
    moment = moment or datetime.now(UTC)
    zone_name = await workspace_zone(workspace_id)
    persons = people([{**subscribers[row["subscriber_id"]], "id": row["id"], "email": row["email"]}
                      for row in rows], zone_name)
    counted = await _sent_today(workspace_id, persons, moment, [row["id"] for row in rows])
    capped = set()
    for person in persons:
        if counted[person.email] >= limits.max_per_day:
            capped.add(person.key)
        else:
            counted[person.email] += 1
    return capped
