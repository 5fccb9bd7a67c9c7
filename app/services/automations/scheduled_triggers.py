"""The triggers no single action causes, checked on a schedule: a date field reached (a birthday, an
anniversary) and entering a segment.

Date: a flow `{"kind": "date", "field": "birthday", "offset_days": -1, "minute_of_day": 540}` enrols a
confirmed subscriber once their local date is the field's month and day plus the offset and their local time
has reached the minute (their zone as campaigns send at local time: send_times.zone_sql). The enrolment is
named `date:<local date>`, so every check of that day finds it and enrols no one twice, and a check that runs
late (the job was down for hours) still catches the day. A 29 February comes on 1 March in other years.

Segment: each check enrols the mailable subscribers the segment matches who were not in it at the previous
check (`flow_segment_members`), and forgets those who left, so a person who comes back enters again (the
flow's once/every settings still decide). The first check after activation enrols everyone in it.
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from app.logs import get_logger
from app.piccolo_conf import DB
from app.services.automations.triggers import enrol_in_chunks, segment_members
from app.services.campaigns.send_times import workspace_zone, zone_sql
from app.services.forms import FormError
from app.services.sqlparams import Params, fetch, fetch_positional

log = get_logger("ignite.automations")

ACTIVE_OF_KIND = """
SELECT f.id, f.workspace_id, v.trigger FROM flows f
JOIN flow_versions v ON v.flow_id = f.id AND v.version = f.version
WHERE f.status = 'active' AND v.trigger ->> 'kind' = $1 ORDER BY f.workspace_id, f.id
"""
# Month and day of the field (text starting YYYY-MM-DD) and of the local date minus the offset.
FIELD_DAY = "substr(s.fields ->> {field}, 6, 5)"
DUE_DATES = """
SELECT s.id, l.day::text AS day
FROM subscribers s
CROSS JOIN LATERAL (SELECT ({now}::timestamptz AT TIME ZONE {zone}) AS at) z
CROSS JOIN LATERAL (SELECT z.at::date AS day, (z.at::date - {offset}::int) AS occasion,
                           extract(hour FROM z.at) * 60 + extract(minute FROM z.at) AS minute) l
WHERE s.workspace_id = {workspace} AND s.status = 'confirmed'
  AND s.fields ->> {field} ~ '^\\d{{4}}-\\d{{2}}-\\d{{2}}' AND {field_day} = ANY({candidates}::text[])
  AND l.minute >= {minute}
  AND ({field_day} = to_char(l.occasion, 'MM-DD')
       OR ({field_day} = '02-29' AND to_char(l.occasion, 'MM-DD') = '03-01'
           AND extract(day FROM make_date(extract(year FROM l.occasion)::int, 3, 1) - 1) = 28))
  AND NOT EXISTS (SELECT 1 FROM flow_enrolments e WHERE e.flow_id = {flow} AND e.subscriber_id = s.id
                  AND e.trigger_ref = 'date:' || l.day::text)
"""
REMEMBER_MEMBERS = """
WITH now_in AS MATERIALIZED (SELECT unnest($3::bigint[]) AS id),
entered AS (
    INSERT INTO flow_segment_members (flow_id, subscriber_id, workspace_id)
    SELECT $2, id, $1 FROM now_in ON CONFLICT DO NOTHING RETURNING subscriber_id
), gone AS (
    DELETE FROM flow_segment_members m WHERE m.flow_id = $2 AND m.workspace_id = $1
      AND NOT EXISTS (SELECT 1 FROM now_in n WHERE n.id = m.subscriber_id)
)
SELECT subscriber_id FROM entered ORDER BY subscriber_id
"""


def _trigger(row: dict[str, Any]) -> dict[str, Any]:
    return json.loads(row["trigger"]) if isinstance(row["trigger"], str) else row["trigger"]


def candidate_days(now: datetime, offset_days: int) -> list[str]:
    """The field month-days (MM-DD) some zone's local date can make due at `now` (local dates span three days)."""
    days = {(now.date() + timedelta(days=shift - offset_days)).strftime("%m-%d") for shift in (-1, 0, 1)}
    return sorted(days | ({"02-29"} if "03-01" in days else set()))


async def _due_on_date(workspace_id: int, flow_id: int, trigger: dict[str, Any], now: datetime
                       ) -> dict[str, list[int]]:
    """The subscribers a date flow is due to enrol now, by their local date."""
    params = Params()
    offset = int(trigger.get("offset_days") or 0)
    field = params.add(str(trigger["field"]))
    sql = DUE_DATES.format(
        now=params.add(now), zone=zone_sql(params, await workspace_zone(workspace_id)), offset=params.add(offset),
        workspace=params.add(workspace_id), field=field, field_day=FIELD_DAY.format(field=field),
        candidates=params.add(candidate_days(now, offset)), minute=params.add(int(trigger.get("minute_of_day") or 0)),
        flow=params.add(flow_id))
    due: dict[str, list[int]] = defaultdict(list)
    for row in await fetch(sql, params):
        due[row["day"]].append(row["id"])
    return due


async def enrol_due_dates(now: datetime) -> int:
    """Every active date flow's subscribers whose day has come, enrolled once per local date."""
    enrolled = 0
    for flow in await fetch_positional(ACTIVE_OF_KIND, ["date"]):
        trigger = _trigger(flow)
        for day, chosen in (await _due_on_date(flow["workspace_id"], flow["id"], trigger, now)).items():
            enrolled += await enrol_in_chunks(flow["workspace_id"], flow["id"], chosen, now=now,
                                              trigger_ref=f"date:{day}")
    return enrolled


async def enrol_segment_entrants(now: datetime) -> int:
    """Every active segment flow's new segment members, enrolled; who is in each segment, remembered."""
    enrolled = 0
    for flow in await fetch_positional(ACTIVE_OF_KIND, ["segment"]):
        workspace_id = flow["workspace_id"]
        try:
            members = await segment_members(workspace_id, _trigger(flow).get("segment_id"))
        except (LookupError, FormError) as exc:
            # Deleted, or no longer valid (a field it tests was removed): this flow waits for its trigger to be
            # changed; the other flows are checked.
            log.warning("flow_segment_unusable", flow_id=flow["id"], reason=str(exc))
            continue
        async with DB.transaction():
            entered = await fetch_positional(REMEMBER_MEMBERS, [workspace_id, flow["id"], members])
            enrolled += await enrol_in_chunks(workspace_id, flow["id"], [row["subscriber_id"] for row in entered],
                                              now=now, trigger_ref="segment")
    return enrolled
