"""What each step kind does to a whole group of enrolments at once: its outcomes, then its effects.

`outcomes` decides, before anything is written, how each enrolment's run ends (a condition's yes or no, a
wait's event or timeout, a goto's jump, a send's delivery); `act` then does the step's work for the runs
the engine's transaction actually wrote, inside that transaction, so an effect happens exactly once.
Tags, lists and unsubscribing go through the same bulk actions as the subscriber pages; a webhook step is a
delivery of the outbound webhook service (signed, its address checked at send time, retried).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from app.db.audience import Tag
from app.db.webhooks import WebhookEndpoint
from app.services import statements, subscriber_actions, vault
from app.services.automations import custom_events, sending, triggers
from app.services.segments import checked, get_segment, where_sql
from app.services.sqlparams import Params, fetch, fetch_positional
from app.services.subscribers import SubscriberFilter, change_status
from app.services.tenancy import owned_by
from app.services.webhooks.endpoints import new_secret
from app.services.webhooks.events import wake

Outcome = tuple[str, int | None, str]  # (outcome, delivery id, detail)
WEBHOOK_KIND = "flow.webhook"


@dataclass
class Found:
    """How each run ends, and the sends to try again later (quiet hours, frequency cap) with no run."""

    ran: dict[int, Outcome] = field(default_factory=dict)
    later: dict[int, datetime] = field(default_factory=dict)


async def segment_members(workspace_id: int, segment_id: int, subscriber_ids: Sequence[int]) -> set[int]:
    """Those of the subscribers the segment matches now (a segment deleted since matches no one)."""
    segment = await get_segment(workspace_id, segment_id)
    if segment is None or not subscriber_ids:
        return set()
    context, tree = await checked(workspace_id, segment)
    params = Params()
    ids = params.add(list(subscriber_ids))
    where = where_sql(params, workspace_id, context.list_ids, tree, context.field_kinds, mailable=False)
    rows = await fetch(f"SELECT s.id FROM subscribers s WHERE s.id = ANY({ids}::bigint[]) AND {where}", params)
    return {row["id"] for row in rows}


async def exits(workspace_id: int, settings: Mapping[str, Any], rows: Sequence[Mapping[str, Any]]) -> dict[int, str]:
    """Enrolments that leave before this step, with why: unsubscribed, or now in an exit segment.

    ("converted" is acted on when the conversion arrives, in `engine.event_happened`.)"""
    enrolment_of = {row["subscriber_id"]: row["enrolment_id"] for row in rows}
    leaving: dict[int, str] = {}
    for condition in settings.get("exit_on") or []:
        if condition == "unsubscribed":
            found = await statements.run("automations.unsubscribed-of", workspace_id, list(enrolment_of))
            matched, reason = {row["id"] for row in found}, "unsubscribed"
        elif isinstance(condition, Mapping) and condition.get("segment_id"):
            matched = await segment_members(workspace_id, int(condition["segment_id"]), list(enrolment_of))
            reason = f"segment {condition['segment_id']}"
        else:
            continue
        for subscriber_id in matched:
            leaving.setdefault(enrolment_of[subscriber_id], reason)
    return leaving


async def _condition(workspace_id: int, params: Mapping[str, Any], rows: Sequence[Mapping[str, Any]],
                     now: datetime) -> set[int]:
    """The subscribers for whom the condition holds."""
    ids = [row["subscriber_id"] for row in rows]
    if params["test"] == "segment":
        return await segment_members(workspace_id, int(params["segment_id"]), ids)
    if params["test"] == "event":
        since = now - timedelta(minutes=int(params["within_minutes"]))
        return await custom_events.had_event(workspace_id, ids, params["event"], since)
    return await _field_matches(workspace_id, params, ids)


async def _field_matches(workspace_id: int, params: Mapping[str, Any], ids: list[int]) -> set[int]:
    value = "coalesce(s.fields ->> $3::text, '')"
    tests = {"eq": f"lower({value}) = lower($4::text)", "neq": f"lower({value}) <> lower($4::text)",
             "contains": f"strpos(lower({value}), lower($4::text)) > 0", "empty": f"{value} = ''",
             "not_empty": f"{value} <> ''"}
    rows = await fetch_positional(
        f"SELECT s.id FROM subscribers s WHERE s.workspace_id = $1::int AND s.id = ANY($2::bigint[]) "
        f"AND {tests[params['op']]} AND $4::text IS NOT NULL",
        [workspace_id, ids, params["field"], str(params.get("value") or "")])
    return {row["id"] for row in rows}


async def _gotos(workspace_id: int, step: Mapping[str, Any], rows: Sequence[Mapping[str, Any]]) -> dict[int, Outcome]:
    taken = await statements.run("automations.gotos-taken", [row["enrolment_id"] for row in rows], step["id"],
                                 workspace_id)
    jumps = {row["enrolment_id"]: int(row["n"]) for row in taken}
    limit = int(step["params"]["limit"])
    return {row["enrolment_id"]: ("yes", None, "") if jumps.get(row["enrolment_id"], 0) < limit
            else ("no", None, "limit reached") for row in rows}


async def _sends(workspace_id: int, flow_id: int, version: int, step: dict[str, Any],
                 rows: Sequence[Mapping[str, Any]], now: datetime) -> Found:
    answers = await sending.send_step(
        workspace_id, flow_id, version, step,
        [(row["enrolment_id"], row["subscriber_id"], row["visit"]) for row in rows], now=now)
    found = Found()
    for enrolment_id, (what, value) in answers.items():
        if what == "sent":
            found.ran[enrolment_id] = ("sent", int(value), "")
        elif what == "later":
            found.later[enrolment_id] = value
        else:
            found.ran[enrolment_id] = ("skipped", None, str(value))
    return found


async def outcomes(workspace_id: int, flow_id: int, version: int, step: dict[str, Any],
                   rows: Sequence[Mapping[str, Any]], now: datetime) -> Found:
    """How the step ends for each enrolment of the group."""
    kind = step["kind"]
    if kind == "send":
        return await _sends(workspace_id, flow_id, version, step, rows, now)
    if kind == "condition":
        holds = await _condition(workspace_id, step["params"], rows, now)
        return Found({row["enrolment_id"]: ("yes" if row["subscriber_id"] in holds else "no", None, "")
                      for row in rows})
    if kind == "goto":
        return Found(await _gotos(workspace_id, step, rows))
    if kind == "wait" and step["params"]["mode"] == "event":
        return Found({row["enrolment_id"]: ("timeout" if row["waiting_event"] else "event", None, "")
                      for row in rows})
    return Found({row["enrolment_id"]: ("done", None, "") for row in rows})


def _order(action: str, ids: list[int], *, tag_name: str = "", target_list: int | None = None
           ) -> subscriber_actions.BulkOrder:
    return subscriber_actions.BulkOrder(action=action, scope="selection", chosen=SubscriberFilter(), ids=ids,
                                        tag_name=tag_name, target_list=target_list)


async def _tags(workspace_id: int, params: Mapping[str, Any], ids: list[int]) -> None:
    for name in params.get("add") or []:
        await subscriber_actions.apply(workspace_id, _order("tag", ids, tag_name=name))
    removing = [name.strip()[:64] for name in params.get("remove") or []]
    if removing:
        known = await Tag.select(Tag.name).where(owned_by(Tag, workspace_id), Tag.name.is_in(removing))
        for row in known:
            await subscriber_actions.apply(workspace_id, _order("untag", ids, tag_name=row["name"]))


SET_FIELD = """
WITH before AS (
    SELECT id, fields FROM subscribers WHERE workspace_id = $1::int AND id = ANY($2::bigint[]) FOR UPDATE
)
UPDATE subscribers s SET fields = s.fields || jsonb_build_object($3::text, $4::text), updated_at = now()
FROM before b WHERE s.id = b.id
RETURNING s.id, b.fields AS before, s.fields AS after
"""


async def _field(workspace_id: int, params: Mapping[str, Any], ids: list[int], now: datetime) -> None:
    """The field set for everyone at once; flows started by that field changing start as for any change."""
    rows = await fetch_positional(SET_FIELD, [workspace_id, ids, params["field"], str(params.get("value") or "")])
    await triggers.fields_changed(
        workspace_id, [(row["id"], _loaded(row["before"]), _loaded(row["after"])) for row in rows], now=now)


def _loaded(fields: Any) -> dict[str, Any]:
    return json.loads(fields) if isinstance(fields, str) else fields


REPOINT = """
WITH pairs AS (
    SELECT e.id AS enrolment_id, n.id AS new_id FROM flow_enrolments e
    JOIN subscribers o ON o.id = e.subscriber_id
    JOIN subscribers n ON n.workspace_id = $1::int AND n.list_id = $3::int AND n.email = o.email AND n.id <> o.id
    WHERE e.workspace_id = $1::int AND e.id = ANY($2::bigint[])
      AND NOT EXISTS (SELECT 1 FROM flow_enrolments x
                      WHERE x.flow_id = e.flow_id AND x.subscriber_id = n.id AND x.status = 'active')
),
enrolments AS (UPDATE flow_enrolments e SET subscriber_id = p.new_id FROM pairs p WHERE e.id = p.enrolment_id)
SELECT enrolment_id, new_id FROM pairs
"""


async def _list(workspace_id: int, params: Mapping[str, Any], rows: Sequence[Mapping[str, Any]]) -> dict[int, int]:
    """Copy or move to a list; a moved person continues the flow as their row on the new list."""
    ids = [row["subscriber_id"] for row in rows]
    target = int(params["list_id"])
    await subscriber_actions.apply(workspace_id, _order("copy", ids, target_list=target))
    if params["action"] != "move":
        return {}
    pairs = await fetch_positional(REPOINT, [workspace_id, [row["enrolment_id"] for row in rows], target])
    await subscriber_actions.apply(workspace_id, _order("move", ids, target_list=target))
    return {row["enrolment_id"]: row["new_id"] for row in pairs}


async def webhook_endpoint(workspace_id: int, url: str) -> int:
    """The endpoint flow steps post to at `url`: one per address, hearing only the flow steps' own kind (which no
    producer publishes)."""
    found = await WebhookEndpoint.select(WebhookEndpoint.id).where(
        owned_by(WebhookEndpoint, workspace_id), WebhookEndpoint.url == url,
        WebhookEndpoint.description == "Flow steps").first()
    if found:
        return found["id"]
    rows = await WebhookEndpoint.insert(WebhookEndpoint(
        workspace_id=workspace_id, url=url, description="Flow steps", events=[WEBHOOK_KIND],
        secret=vault.encrypt(new_secret()), enabled=True, created_at=datetime.now(UTC), updated_at=datetime.now(UTC),
    )).returning(WebhookEndpoint.id)
    return rows[0]["id"]


QUEUE_WEBHOOKS = """
INSERT INTO webhook_deliveries (workspace_id, endpoint_id, event_id, kind, payload, next_attempt_at)
SELECT $1::int, $2::int, r.event_id, $3::text,
       jsonb_build_object('flow_id', $4::int, 'step_id', $5::text, 'enrolment_id', r.enrolment_id,
                          'subscriber', jsonb_build_object('id', s.id, 'email', s.email, 'list_id', s.list_id,
                                                           'status', s.status, 'fields', s.fields)),
       now()
FROM unnest($6::bigint[], $7::bigint[], $8::uuid[]) AS r(enrolment_id, subscriber_id, event_id)
JOIN subscribers s ON s.id = r.subscriber_id AND s.workspace_id = $1::int
"""


async def _webhook(workspace_id: int, flow_id: int, step: Mapping[str, Any], rows: Sequence[Mapping[str, Any]]
                   ) -> None:
    endpoint = await webhook_endpoint(workspace_id, step["params"]["url"])
    await fetch_positional(QUEUE_WEBHOOKS, [
        workspace_id, endpoint, WEBHOOK_KIND, flow_id, step["id"], [row["enrolment_id"] for row in rows],
        [row["subscriber_id"] for row in rows], [uuid.uuid4() for _ in rows]])
    await wake()


async def act(workspace_id: int, flow_id: int, step: dict[str, Any], rows: Sequence[Mapping[str, Any]],
              now: datetime) -> dict[int, int]:
    """The step's effect on the runs just written; enrolments that now follow another subscriber row (moved
    to a list) with that row's id."""
    if not rows:
        return {}
    kind, params = step["kind"], step["params"]
    ids = [row["subscriber_id"] for row in rows]
    if kind == "tag":
        await _tags(workspace_id, params, ids)
    elif kind == "field":
        await _field(workspace_id, params, ids, now)
    elif kind == "list":
        return await _list(workspace_id, params, rows)
    elif kind == "unsubscribe":
        await change_status(workspace_id, SubscriberFilter(ids=ids), "unsubscribed", "flow")
    elif kind == "webhook":
        await _webhook(workspace_id, flow_id, step, rows)
    return {}
