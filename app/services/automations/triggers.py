"""Flow triggers: the places that cause an event call one function here, which enrols the people into every
active flow whose trigger matches and wakes the enrolments waiting for that event (engine.py), set-based.

Producers call from hot paths (the tracking aggregator, status changes, the API), so a workspace with no
active flow that listens costs a dictionary lookup: what each workspace's flows listen for (the triggers of
the versions they publish, the events their waits wait for) is cached in the process for a few seconds, like
the kinds webhook endpoints hear, and forgotten at once when this process activates or pauses a flow.

"Subscribed to list L" fires when someone becomes a confirmed subscriber of L: added confirmed, or confirming
by double opt-in, or re-subscribed; "confirmed" fires only on a double opt-in confirmation. A subscriber who
has not confirmed cannot be mailed, so a welcome flow starts when they can be.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import ModuleType
from typing import Any

from app.services.accounts import now as clock
from app.services.forms import FormError
from app.services.lists import get_list
from app.services.sqlparams import fetch, fetch_positional
from app.services.tenancy import checked_workspace_id

LISTENING_SECONDS = 5.0
# Enrolments are written this many subscribers per call, so a big list or segment never builds one huge array.
ENROL_CHUNK = 10_000
# The import option a marketer ticks to have the people an import adds enter the list's flows.
ENROL_OPTION = "enrol_flows"
# The tracking kinds people's opens and clicks have, and the flow event each is.
ENGAGEMENT = {"open": "opened", "click": "clicked"}

LISTENING = """
SELECT f.id, v.trigger FROM flows f JOIN flow_versions v ON v.flow_id = f.id AND v.version = f.version
WHERE f.workspace_id = $1 AND f.status = 'active' ORDER BY f.id
"""
# The events the engine must hear of (engine.event_happened): what a wait waits for, a goal, an exit condition,
# in any version people may still be on (a paused flow's people wait on).
HEARD = """
WITH versions AS (
    SELECT v.steps, v.settings FROM flows f JOIN flow_versions v ON v.flow_id = f.id
    WHERE f.workspace_id = $1 AND f.status IN ('active', 'paused')
)
SELECT step -> 'params' ->> 'event' AS event FROM versions, jsonb_array_elements(steps) step
WHERE step ->> 'kind' = 'wait' AND step -> 'params' ->> 'mode' = 'event'
UNION SELECT settings -> 'goal' ->> 'event' FROM versions
UNION SELECT item #>> '{}' FROM versions, jsonb_array_elements(CASE jsonb_typeof(settings -> 'exit_on')
    WHEN 'array' THEN settings -> 'exit_on' ELSE '[]' END) item WHERE jsonb_typeof(item) = 'string'
"""
CONFIRMED_NOW = """
SELECT s.id, s.list_id, h.from_status FROM bulk_targets t
JOIN subscribers s ON s.id = t.id AND s.workspace_id = $1::int
JOIN subscriber_status_changes h ON h.subscriber_id = t.id AND h.to_status = 'confirmed' AND h.created_at = now()
"""
LACKING_TAG = """
SELECT t.id FROM bulk_targets t JOIN subscribers s ON s.id = t.id AND s.workspace_id = $1::int
WHERE NOT EXISTS (SELECT 1 FROM subscriber_tags st WHERE st.subscriber_id = t.id AND st.tag_id = $2::int)
"""
LIST_MEMBERS = """
SELECT id FROM subscribers WHERE workspace_id = $1 AND list_id = $2 AND status = 'confirmed' ORDER BY id
"""
IMPORTED = """
SELECT id FROM subscribers WHERE workspace_id = $1 AND list_id = $2 AND import_id = $3 AND status = 'confirmed'
ORDER BY id
"""
DELIVERY_SUBSCRIBERS = """
SELECT d.id, d.subscriber_id FROM unnest($1::bigint[], $2::int[]) x(id, workspace_id)
JOIN deliveries d ON d.id = x.id AND d.workspace_id = x.workspace_id WHERE d.subscriber_id IS NOT NULL
"""


@dataclass(frozen=True)
class Listening:
    """What a workspace's flows listen for: (flow id, published trigger) of each active flow, and the events the
    engine must hear of (`waited`: those waits wait for, goals, exit conditions)."""

    triggers: tuple[tuple[int, dict[str, Any]], ...] = ()
    waited: frozenset[str] = frozenset()

    def flows(self, kind: str) -> list[tuple[int, dict[str, Any]]]:
        return [(flow_id, trigger) for flow_id, trigger in self.triggers if trigger.get("kind") == kind]

    def hears(self, kinds: Collection[str], events: Collection[str] = ()) -> bool:
        """Whether some active flow starts on one of `kinds`, or some wait waits for one of `events`."""
        return not self.waited.isdisjoint(events) or any(trigger.get("kind") in kinds for _, trigger in self.triggers)


@dataclass(frozen=True)
class Fired:
    enrolled: int = 0
    woken: int = 0

    def __add__(self, other: Fired) -> Fired:
        return Fired(self.enrolled + other.enrolled, self.woken + other.woken)


_listening: dict[int, tuple[float, Listening]] = {}


def forget_listening(workspace_id: int) -> None:
    """A flow of the workspace was activated, paused or published: the next event reads its flows again."""
    _listening.pop(workspace_id, None)


def _loaded(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


async def listening(workspace_id: int) -> Listening:
    """What the workspace's flows listen for (cached briefly)."""
    cached = _listening.get(workspace_id)
    if cached is not None and cached[0] > time.monotonic():
        return cached[1]
    workspace_id = checked_workspace_id(workspace_id)
    flows = await fetch_positional(LISTENING, [workspace_id])
    waited = await fetch_positional(HEARD, [workspace_id])
    found = Listening(tuple((row["id"], _loaded(row["trigger"])) for row in flows),
                      frozenset(row["event"] for row in waited if row["event"]))
    _listening[workspace_id] = (time.monotonic() + LISTENING_SECONDS, found)
    return found


def _id(value: Any) -> int | None:
    """A trigger's optional id (list, campaign), as an int; None for "any"."""
    return None if value in (None, "") else int(value)


def _engine() -> ModuleType:
    """The engine, imported when first needed: the subscriber services import this module while their package
    is still loading, and the engine's steps import those services."""
    from app.services.automations import engine

    return engine


async def enrol_in_chunks(workspace_id: int, flow_id: int, subscriber_ids: Sequence[int], *, now: datetime,
                          trigger_ref: str = "") -> int:
    engine = _engine()
    enrolled = 0
    for start in range(0, len(subscriber_ids), ENROL_CHUNK):
        enrolled += await engine.enrol(workspace_id, flow_id, list(subscriber_ids[start:start + ENROL_CHUNK]),
                                       now=now, trigger_ref=trigger_ref)
    return enrolled


async def _fire(workspace_id: int, found: Listening, kind: str, people: Callable[[dict[str, Any]], list[int]],
                event: str, woken: Sequence[int], *, now: datetime, trigger_ref: str = "") -> Fired:
    """Enrol `people(trigger)` into each active flow whose trigger is of `kind`; wake the enrolments of the
    subscribers `woken` that wait for `event`."""
    enrolled = 0
    for flow_id, trigger in found.flows(kind):
        chosen = people(trigger)
        if chosen:
            enrolled += await enrol_in_chunks(workspace_id, flow_id, chosen, now=now, trigger_ref=trigger_ref)
    awake = 0
    if event in found.waited and woken:
        awake = await _engine().event_happened(workspace_id, list(woken), event, now=now)
    return Fired(enrolled, awake)


def _on_list(members: Sequence[tuple[int, int]]) -> Callable[[dict[str, Any]], list[int]]:
    """The subscribers of (subscriber id, list id) pairs a list trigger names (no list: all of them)."""
    def chosen(trigger: dict[str, Any]) -> list[int]:
        list_id = _id(trigger.get("list_id"))
        return [subscriber for subscriber, on in members if list_id is None or on == list_id]
    return chosen


async def became_confirmed(workspace_id: int, moved: Sequence[tuple[int, int, str]], *,
                           now: datetime | None = None) -> Fired:
    """Subscribers who became confirmed members of a list: (subscriber id, list id, status before)."""
    found = await listening(workspace_id)
    if not moved or not found.hears(("subscribed", "confirmed"), ("subscribed", "confirmed")):
        return Fired()
    now = now or clock()
    members = [(subscriber, list_id) for subscriber, list_id, _ in moved]
    opted_in = [(subscriber, list_id) for subscriber, list_id, before in moved if before == "unconfirmed"]
    fired = await _fire(workspace_id, found, "subscribed", _on_list(members), "subscribed",
                        [subscriber for subscriber, _ in members], now=now)
    return fired + await _fire(workspace_id, found, "confirmed", _on_list(opted_in), "confirmed",
                               [subscriber for subscriber, _ in opted_in], now=now)


async def subscribers_added(workspace_id: int, list_id: int, status: str, subscriber_ids: Sequence[int]) -> Fired:
    """New subscribers of a list (by hand, a form, the API): those added confirmed have subscribed."""
    if status != "confirmed":
        return Fired()
    return await became_confirmed(workspace_id, [(subscriber_id, list_id, "") for subscriber_id in subscriber_ids])


async def status_changed(workspace_id: int, to_status: str) -> Fired:
    """After `subscribers.change-status`, in its transaction: those of `bulk_targets` it confirmed."""
    if to_status != "confirmed":
        return Fired()
    if not (await listening(workspace_id)).hears(("subscribed", "confirmed"), ("subscribed", "confirmed")):
        return Fired()
    rows = await fetch_positional(CONFIRMED_NOW, [checked_workspace_id(workspace_id)])
    return await became_confirmed(workspace_id, [(r["id"], r["list_id"], r["from_status"]) for r in rows])


async def tagging(workspace_id: int, tag_id: int, tag_name: str) -> Fired:
    """Before `subscribers.tag`, in its transaction: those of `bulk_targets` without the tag yet are the ones
    it adds the tag to."""
    if not (await listening(workspace_id)).flows("tag_added"):
        return Fired()
    rows = await fetch_positional(LACKING_TAG, [checked_workspace_id(workspace_id), tag_id])
    return await tag_added(workspace_id, tag_name, [row["id"] for row in rows])


async def tag_added(workspace_id: int, tag_name: str, subscriber_ids: Sequence[int], *,
                    now: datetime | None = None) -> Fired:
    """The tag was just added to these subscribers (none of them had it)."""
    found = await listening(workspace_id)
    if not subscriber_ids or not found.flows("tag_added"):
        return Fired()
    name = tag_name.strip()
    return await _fire(workspace_id, found, "tag_added",
                       lambda trigger: list(subscriber_ids) if str(trigger.get("tag", "")).strip() == name else [],
                       "", [], now=now or clock())


def _text(value: Any) -> str:
    """A field value as compared with a trigger's: booleans as true/false, nothing as ''."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


async def fields_changed(workspace_id: int, changes: Sequence[tuple[int, Mapping[str, Any], Mapping[str, Any]]],
                         *, now: datetime | None = None) -> Fired:
    """Subscribers' fields changed: (subscriber id, fields before, fields after)."""
    found = await listening(workspace_id)
    if not changes or not found.flows("field_changed"):
        return Fired()

    def chosen(trigger: dict[str, Any]) -> list[int]:
        field, wanted = str(trigger.get("field", "")), trigger.get("value")
        return [subscriber for subscriber, before, after in changes
                if _text(before.get(field)) != _text(after.get(field))
                and (wanted is None or _text(after.get(field)) == _text(wanted))]

    return await _fire(workspace_id, found, "field_changed", chosen, "", [], now=now or clock())


async def engagement(rows: Iterable[tuple]) -> Fired:
    """People's opens and clicks of a tracking batch (the aggregator's rows: stream id, workspace, campaign,
    delivery, kind, link, url, meta, time), for the workspaces whose flows listen: one query finds whose
    deliveries they were, then each listening flow enrols its people at once."""
    chosen: dict[int, list[tuple]] = defaultdict(list)
    for row in rows:
        if row[4] in ENGAGEMENT:
            chosen[row[1]].append(row)
    heard = [row for workspace_id, found in chosen.items()
             if (await listening(workspace_id)).hears(("opened", "clicked"), ("opened", "clicked")) for row in found]
    if not heard:
        return Fired()
    found_rows = await fetch_positional(DELIVERY_SUBSCRIBERS, [[row[3] for row in heard], [row[1] for row in heard]])
    subscriber_of = {row["id"]: row["subscriber_id"] for row in found_rows}
    people: dict[tuple[int, str], list[tuple[int, int]]] = defaultdict(list)
    latest: dict[int, datetime] = {}
    for row in heard:
        if row[3] in subscriber_of:
            people[(row[1], ENGAGEMENT[row[4]])].append((subscriber_of[row[3]], row[2]))
            latest[row[1]] = max(latest.get(row[1], row[8]), row[8])
    fired = Fired()
    for (workspace_id, event), engaged in people.items():
        fired += await _engaged(workspace_id, event, engaged, latest[workspace_id])
    return fired


async def _engaged(workspace_id: int, event: str, people: list[tuple[int, int]], now: datetime) -> Fired:
    """(subscriber id, campaign id) pairs who opened or clicked, into the flows of that trigger."""
    def chosen(trigger: dict[str, Any]) -> list[int]:
        campaign_id = _id(trigger.get("campaign_id"))
        return list(dict.fromkeys(s for s, campaign in people if campaign_id is None or campaign == campaign_id))

    return await _fire(workspace_id, await listening(workspace_id), event, chosen, event,
                       list(dict.fromkeys(s for s, _ in people)), now=now)


async def converted(workspace_id: int, subscriber_id: int | None, offer_id: str, *,
                    now: datetime | None = None) -> Fired:
    """A postback's conversion, attributed to the subscriber."""
    found = await listening(workspace_id)
    if subscriber_id is None or not found.hears(("converted",), ("converted",)):
        return Fired()

    def chosen(trigger: dict[str, Any]) -> list[int]:
        wanted = str(trigger.get("offer_id") or "")
        return [subscriber_id] if not wanted or wanted == offer_id else []

    return await _fire(workspace_id, found, "converted", chosen, "converted", [subscriber_id], now=now or clock())


async def custom_event(workspace_id: int, name: str, subscriber_ids: Sequence[int], *, now: datetime) -> Fired:
    """An event posted through the API (custom_events.py)."""
    found = await listening(workspace_id)
    if not subscriber_ids or not found.hears(("event",), (name,)):
        return Fired()
    return await _fire(workspace_id, found, "event",
                       lambda trigger: list(subscriber_ids) if trigger.get("event") == name else [],
                       name, subscriber_ids, now=now)


async def segment_members(workspace_id: int, segment_id: object) -> list[int]:
    """The mailable subscribers a saved segment of the workspace matches now (LookupError: not theirs)."""
    from app.services import segments  # see _engine: segments import the subscriber services

    segment = await segments.get_segment(workspace_id, segment_id)
    if segment is None:
        raise LookupError("segment")
    query, params = await segments.matching_ids_query(workspace_id, segment)
    return [row["id"] for row in await fetch(f"SELECT id FROM ({query}) m ORDER BY id", params)]


async def enrol_audience(workspace_id: int, flow_id: int, list_id: int | None = None, segment_id: int | None = None,
                         *, now: datetime) -> int:
    """Manual enrolment: the confirmed subscribers of a list, or the mailable ones a segment matches, into an
    active flow; how many entered (those the flow's settings keep out, e.g. enrolled once already, do not)."""
    from app.services.automations import flows  # see _engine

    flow = await flows.owned_flow(workspace_id, flow_id)
    if flow["status"] != "active":
        raise FormError({"flow": "Activate the flow before enrolling people in it."})
    if (list_id is None) == (segment_id is None):
        raise FormError({"list_id": "Choose a list or a segment to enrol."})
    if segment_id is not None:
        chosen = await segment_members(workspace_id, segment_id)
    else:
        if await get_list(workspace_id, list_id) is None:
            raise LookupError("list")
        rows = await fetch_positional(LIST_MEMBERS, [checked_workspace_id(workspace_id), list_id])
        chosen = [row["id"] for row in rows]
    return await enrol_in_chunks(workspace_id, flow["id"], chosen, now=now, trigger_ref="manual")


async def imported(row: Mapping[str, Any], *, now: datetime | None = None) -> Fired:
    """A finished import that asked to enrol (option `enrol_flows`): the confirmed subscribers it added have
    subscribed to its list. An import that did not ask enrols no one, however many rows it had."""
    if row["status"] != "completed" or not row["options"].get(ENROL_OPTION) or not row.get("list_id"):
        return Fired()
    workspace_id = row["workspace_id"]
    if not (await listening(workspace_id)).hears(("subscribed",), ("subscribed",)):
        return Fired()
    added = await fetch_positional(IMPORTED, [checked_workspace_id(workspace_id), row["list_id"], row["id"]])
    return await became_confirmed(workspace_id, [(r["id"], row["list_id"], "") for r in added], now=now)
