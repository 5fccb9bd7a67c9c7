"""When each recipient's message may go: local time, best hour, the sending window, and queueing rows as they fall due.

A delivery is claimed only once its `next_attempt_at` has come. Materialising
writes it per recipient, in SQL, inside the chunk INSERT:
- `now` and `at`: when the campaign starts (the launch, or its scheduled time);
- `local`: the chosen wall-clock time (the campaign's `scheduled_at` read in
  its own zone) in the recipient's zone;
- `best_hour`: the next occurrence, within a week of the start, of the hour of
  the week (in UTC) at which the subscriber opened most, else the one at which
  their list opened most, else the chosen time. Only a person's opens count:
  machine opens (privacy proxies, scanners) are events of their own kind.
A sending window then moves a time outside it to the window's next opening in
the recipient's zone. The recipient's zone is the subscriber's own, else the
zone of their `country` field, else the workspace's.

Rows due as they are written are queued by the materialiser; the others are
queued by `queue_fallen_due`, run every minute by the reaper, which queues the
rows that fell due since its last sweep (a cursor per campaign in Redis).
"""

from __future__ import annotations

import importlib.resources
import json
import zoneinfo
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from functools import cache
from pathlib import Path
from typing import Any

from redis.asyncio import Redis

from app.db.accounts import Workspace
from app.services import statements
from app.services.campaigns import counters
from app.services.campaigns.ending import note_progress
from app.services.campaigns.queue import SendQueue, enqueue_ranges
from app.services.sqlparams import Params, fetch
from app.services.tenancy import checked_workspace_id
from app.services.tracking.events import OPEN
from app.settings import get_settings

MODES = ("now", "at", "local", "best_hour")
TIMED_MODES = ("at", "local", "best_hour")
# The first zone on Earth to reach a wall-clock time (UTC+14, no daylight saving): a campaign in local time
# starts when its time comes there, so no recipient's moment has passed when it starts.
EARLIEST_ZONE = "Pacific/Kiritimati"
WEEK_HOURS = 168
MINUTES_PER_DAY = 1440
# The subscriber field a country is read from, as a code (DE) or an English name (Germany).
COUNTRY_FIELD = "country"
# Fell-due cursors outlive any campaign's sending week.
CURSOR_KEEP_SECONDS = 30 * 86400


@dataclass(frozen=True)
class Window:
    """Minutes of the recipient's day during which messages may go out; start > end wraps past midnight."""

    start: int
    end: int

    @classmethod
    def of(cls, campaign: Mapping[str, Any]) -> Window | None:
        if campaign.get("window_start") is None or campaign.get("window_end") is None:
            return None
        return cls(int(campaign["window_start"]), int(campaign["window_end"]))

    def holds(self, minute: int) -> bool:
        if self.start < self.end:
            return self.start <= minute < self.end
        return minute >= self.start or minute < self.end

    def next_opening(self, moment: datetime, zone: zoneinfo.ZoneInfo) -> datetime:
        """`moment` when it is inside the window in `zone`, else the window's next opening there."""
        local = moment.astimezone(zone)
        if self.holds(local.hour * 60 + local.minute):
            return moment
        opening = datetime.combine(local.date(), time(self.start // 60, self.start % 60), zone)
        if opening <= local:
            opening = datetime.combine(local.date() + timedelta(days=1), time(self.start // 60, self.start % 60),
                                       zone)
        return opening.astimezone(UTC)


def clock_minutes(text: str, *, end: bool = False) -> int:
    """"08:30" as minutes of the day; ValueError for anything else ("24:00" only as an end)."""
    hours, sep, minutes = text.strip().partition(":")
    if not sep or not (hours.isdigit() and minutes.isdigit()) or len(minutes) != 2 or len(hours) > 2:
        raise ValueError(text)
    total = int(hours) * 60 + int(minutes)
    if int(minutes) > 59 or total > MINUTES_PER_DAY or (total == MINUTES_PER_DAY and not end):
        raise ValueError(text)
    return total


def wall_clock(campaign: Mapping[str, Any]) -> datetime | None:
    """The campaign's chosen time as a wall-clock reading (no zone) in the campaign's own zone."""
    if campaign.get("scheduled_at") is None:
        return None
    return campaign["scheduled_at"].astimezone(zoneinfo.ZoneInfo(campaign["timezone"])).replace(tzinfo=None)


def starts_at(campaign: Mapping[str, Any]) -> datetime | None:
    """When the campaign should start: its scheduled time, or for local time when the earliest zone reaches it."""
    if campaign.get("send_mode") == "local" and (clock := wall_clock(campaign)) is not None:
        return clock.replace(tzinfo=zoneinfo.ZoneInfo(EARLIEST_ZONE)).astimezone(UTC)
    return campaign.get("scheduled_at")


def timing_problem(campaign: Mapping[str, Any]) -> str | None:
    """Why the campaign cannot go out as its Delivery step says (a mode that needs a time has none), or None."""
    if campaign.get("send_mode") in TIMED_MODES and campaign.get("scheduled_at") is None:
        return "Choose the date and time."
    return None


# The same start, for a query over campaigns (`start_due`): columns of the campaigns table `c`.
STARTS_AT_SQL = (f"CASE WHEN c.send_mode = 'local' THEN (c.scheduled_at AT TIME ZONE c.timezone) "
                 f"AT TIME ZONE '{EARLIEST_ZONE}' ELSE c.scheduled_at END")


def _tab_lines(name: str) -> list[str]:
    """A table of the tz database: from the system's zoneinfo (what `zoneinfo` reads), else the tzdata package."""
    for root in zoneinfo.TZPATH:
        path = Path(root) / name
        if path.is_file():
            return path.read_text(encoding="utf-8").splitlines()
    try:
        return (importlib.resources.files("tzdata.zoneinfo") / name).read_text(encoding="utf-8").splitlines()
    except (ModuleNotFoundError, FileNotFoundError):
        return []


def _rows(name: str) -> Iterable[list[str]]:
    return (line.split("\t") for line in _tab_lines(name) if line and not line.startswith("#"))


# zone.tab orders a country's zones by geography, not people: its first line for Brazil is Fernando de
# Noronha, for Russia Kaliningrad, for Canada Halifax. For the countries where that first line (or the one
# marked "most areas") is not where most people live, the zone of the most populous region.
MOST_PEOPLE = {"BR": "America/Sao_Paulo", "RU": "Europe/Moscow", "CA": "America/Toronto",
               "MX": "America/Mexico_City", "AR": "America/Argentina/Buenos_Aires", "CN": "Asia/Shanghai",
               "KZ": "Asia/Almaty", "AU": "Australia/Sydney", "US": "America/New_York",
               "ID": "Asia/Jakarta", "CD": "Africa/Kinshasa", "ES": "Europe/Madrid", "PT": "Europe/Lisbon",
               "EC": "America/Guayaquil", "CL": "America/Santiago", "MN": "Asia/Ulaanbaatar"}


def _preferred(code: str, zones: list[tuple[str, str]]) -> str:
    """The zone most of a country's people keep: known for the big ones, else zone.tab's "most areas" line,
    else the first it lists."""
    return MOST_PEOPLE.get(code) or next((zone for zone, comment in zones if "most" in comment.lower()), zones[0][0])


@cache
def country_zones() -> dict[str, str]:
    """Country code and English name (upper case) → the zone most of it keeps, from the tz database's zone.tab.

    A country spanning several zones gets the zone of its most populous region (see `_preferred`).
    """
    by_country: dict[str, list[tuple[str, str]]] = {}
    for columns in _rows("zone.tab"):
        by_country.setdefault(columns[0], []).append((columns[2], columns[3] if len(columns) > 3 else ""))
    zones = {code: _preferred(code, lines) for code, lines in by_country.items()}
    for columns in _rows("iso3166.tab"):
        if len(columns) > 1 and columns[0] in zones:
            zones[columns[1].strip().upper()] = zones[columns[0]]
    return zones


async def workspace_zone(workspace_id: int) -> str:
    row = await Workspace.select(Workspace.timezone).where(Workspace.id == workspace_id).first()
    return row["timezone"] if row and valid_zone(row["timezone"]) else "UTC"


def valid_zone(name: str) -> bool:
    if not name or name.startswith(("posix/", "right/")):
        return False
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return False
    return True


def recipient_zone(timezone: str, fields: Mapping[str, Any], workspace_zone: str) -> zoneinfo.ZoneInfo:
    """The zone a recipient lives in: their own, else their country's, else the workspace's."""
    if valid_zone(timezone):
        return zoneinfo.ZoneInfo(timezone)
    country = str(fields.get(COUNTRY_FIELD) or "").strip().upper()
    if zone := country_zones().get(country):
        return zoneinfo.ZoneInfo(zone)
    return zoneinfo.ZoneInfo(workspace_zone)


def window_waits(window: Window, rows: Iterable[Mapping[str, Any]], subscribers: Mapping[int, Mapping[str, Any]],
                 workspace_zone: str, moment: datetime) -> dict[int, float]:
    """Seconds until its window opens, for each delivery row whose recipient is outside the window at `moment`."""
    waits: dict[int, float] = {}
    for row in rows:
        subscriber = subscribers[row["subscriber_id"]]
        zone = recipient_zone(subscriber.get("timezone") or "", subscriber.get("fields") or {}, workspace_zone)
        opening = window.next_opening(moment, zone)
        if opening > moment:
            waits[row["id"]] = (opening - moment).total_seconds()
    return waits


@dataclass(frozen=True)
class TimingSql:
    """`next_attempt_at` of a chunk's rows, as SQL over `subscribers s`; None when it is simply now."""

    lateral: str
    expression: str


def zone_sql(params: Params, workspace_zone: str) -> str:
    """The recipient's zone as SQL over `subscribers s` (a zone PostgreSQL does not know is not used)."""
    countries = params.add(json.dumps(country_zones()))
    return (f"coalesce(CASE WHEN s.timezone <> '' AND s.timezone IN (SELECT name FROM pg_timezone_names) "
            f"THEN s.timezone END, {countries}::jsonb ->> upper(btrim(s.fields ->> '{COUNTRY_FIELD}')), "
            f"{params.add(workspace_zone)}::text)")


def _best_hour_sql(params: Params, workspace_id: int, list_hours: Mapping[int, int], start: datetime,
                   fallback: datetime) -> tuple[str, str]:
    """The next occurrence of the subscriber's (else the list's) best hour of the week after `start`, as SQL."""
    workspace = params.add(checked_workspace_id(workspace_id))
    lists = params.add(json.dumps({str(list_id): hour for list_id, hour in list_hours.items()}))
    start_at = params.add(start)
    own = (f"(SELECT mode() WITHIN GROUP (ORDER BY {hour_of_week_sql('e.occurred_at')}) FROM events e "
           f"WHERE e.subscriber_id = s.id AND e.kind = '{OPEN}' AND e.workspace_id = {workspace})")
    hour = f"coalesce({own}, ({lists}::jsonb ->> s.list_id::text)::integer)"
    week = f"(date_trunc('week', {start_at}::timestamptz AT TIME ZONE 'UTC') AT TIME ZONE 'UTC')"
    at = f"{week} + make_interval(hours => bh.hour)"
    return (f"CROSS JOIN LATERAL (SELECT {hour} AS hour) bh",
            f"CASE WHEN bh.hour IS NULL THEN {params.add(fallback)}::timestamptz "
            f"WHEN {at} + interval '1 hour' <= {start_at}::timestamptz THEN {at} + interval '7 days' "
            f"ELSE {at} END")


def hour_of_week_sql(column: str) -> str:
    """Hours since Monday 00:00 UTC of a timestamptz column, 0..167."""
    return f"((extract(isodow FROM {column} AT TIME ZONE 'UTC')::integer - 1) * 24 + " \
           f"extract(hour FROM {column} AT TIME ZONE 'UTC')::integer)"


def _window_sql(params: Params, window: Window, at: str, zone: str) -> str:
    """`at` moved to the window's next opening in `zone` when it falls outside it."""
    start, end = params.add(window.start), params.add(window.end)
    local = f"({at} AT TIME ZONE {zone})"
    minute = f"(extract(hour FROM {local})::integer * 60 + extract(minute FROM {local})::integer)"
    inside = (f"{minute} >= {start}::integer AND {minute} < {end}::integer" if window.start < window.end
              else f"({minute} >= {start}::integer OR {minute} < {end}::integer)")
    opening = f"(date_trunc('day', {local}) + make_interval(mins => {start}::integer))"
    return (f"CASE WHEN {inside} THEN {at} WHEN {opening} > {local} THEN {opening} AT TIME ZONE {zone} "
            f"ELSE ({opening} + interval '1 day') AT TIME ZONE {zone} END")


async def list_best_hours(workspace_id: int, list_ids: Iterable[int]) -> dict[int, int]:
    """Each list's hour of the week (UTC) at which its subscribers opened most; lists without opens are left out."""
    ids = sorted(set(list_ids))
    if not ids:
        return {}
    params = Params()
    workspace = params.add(checked_workspace_id(workspace_id))
    rows = await fetch(
        f"SELECT s.list_id, mode() WITHIN GROUP (ORDER BY {hour_of_week_sql('e.occurred_at')}) AS hour "
        f"FROM events e JOIN subscribers s ON s.id = e.subscriber_id AND s.workspace_id = {workspace} "
        f"WHERE e.workspace_id = {workspace} AND e.kind = '{OPEN}' AND s.list_id = ANY({params.add(ids)}::integer[]) "
        "GROUP BY s.list_id", params)
    return {row["list_id"]: row["hour"] for row in rows}


async def timing_sql(params: Params, workspace_id: int, campaign: Mapping[str, Any], workspace_zone: str,
                     list_ids: Iterable[int], start: datetime) -> TimingSql | None:
    """Each row's `next_attempt_at` for this campaign's mode and window, or None when every row is due at once."""
    mode, window = campaign.get("send_mode", "now"), Window.of(campaign)
    if mode in ("now", "at") and window is None:
        return None
    zone = zone_sql(params, workspace_zone)
    laterals = [f"CROSS JOIN LATERAL (SELECT {zone} AS zone) rz"]
    at = "now()"
    if mode == "local" and (clock := wall_clock(campaign)) is not None:
        at = f"greatest(({params.add(clock)}::timestamp AT TIME ZONE rz.zone), now())"
    elif mode == "best_hour":
        fallback = campaign.get("scheduled_at") or start
        lateral, expression = _best_hour_sql(params, workspace_id, await list_best_hours(workspace_id, list_ids),
                                             start, fallback)
        laterals.append(lateral)
        at = f"greatest({expression}, now())"
    if window is not None:
        laterals.append(f"CROSS JOIN LATERAL (SELECT {at} AS at) ra")
        at = _window_sql(params, window, "ra.at", "rz.zone")
    return TimingSql(" ".join(laterals), at)


def _cursor_key(campaign_id: int) -> str:
    return counters.key(campaign_id, "fallen-due")


async def advance_cursor(redis: Redis, campaign_id: int, through: datetime) -> None:
    """Rows due by `through` are queued already (a sorted set's GT keeps the cursor from going back)."""
    key = _cursor_key(campaign_id)
    await redis.zadd(key, {"through": through.timestamp()}, gt=True)
    await redis.expire(key, CURSOR_KEEP_SECONDS)


async def queue_fallen_due(redis: Redis, queue: SendQueue, workspace_id: int, campaign_id: int) -> int:
    """Queue the waiting rows that fell due since the last sweep (or since materialising); returns batches queued.

    Without a cursor (nothing was written for later, or Redis lost it) nothing is queued here: the reaper
    queues every due row of a campaign that stopped moving.
    """
    through = await redis.zscore(_cursor_key(campaign_id), "through")
    if through is None:
        return 0
    rows = await statements.run("campaigns.fallen-due-ranges", workspace_id, campaign_id,
                                get_settings().sending.batch_size, datetime.fromtimestamp(through, UTC))
    if not rows:
        return 0
    await advance_cursor(redis, campaign_id, rows[0]["swept_at"])
    ranges = [(row["first_id"], row["last_id"]) for row in rows if row["first_id"] is not None]
    if ranges:
        await note_progress(redis, campaign_id)
    return enqueue_ranges(queue, workspace_id, campaign_id, ranges)
