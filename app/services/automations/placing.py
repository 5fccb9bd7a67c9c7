"""Putting people at a step: one upsert per step, with the time it is due.

A wait is resolved here: for a duration the step is due when it ends; until a time of day or a weekday it is
due at the next such moment in the subscriber's own zone (their zone, else their country's, else the
workspace's, as for campaigns sent in local time); until an event it is due at the timeout and names the
event, which `engine.event_happened` clears when it comes. Any other step is due at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from app.services import statements
from app.services.campaigns.send_times import workspace_zone, zone_sql
from app.services.sqlparams import Params, fetch


@dataclass(frozen=True)
class Move:
    enrolment_id: int
    subscriber_id: int
    visit: int


def _local_due(params: Params, step_days: int, days_sql: str, minute_of_day: int) -> tuple[str, str]:
    """(the due expression, the laterals it needs) for the next local moment a wait names."""
    laterals = (
        "CROSS JOIN LATERAL (SELECT ({now}::timestamptz AT TIME ZONE rz.zone) AS local) rl "
        f"CROSS JOIN LATERAL (SELECT date_trunc('day', rl.local) + make_interval(days => {days_sql}, "
        f"mins => {params.add(minute_of_day)}::int) AS at) rt"
    )
    due = (f"(CASE WHEN rt.at < rl.local THEN rt.at + make_interval(days => {step_days}) ELSE rt.at END) "
           "AT TIME ZONE rz.zone")
    return due, laterals


async def _timing(params: Params, workspace_id: int, step: dict[str, Any], now: datetime
                  ) -> tuple[str, str, str, str]:
    """(due, timeout, waiting event, joins) SQL for people entering `step` at `now`."""
    nothing = "NULL::timestamptz"
    if step["kind"] != "wait":
        return f"{params.add(now)}::timestamptz", nothing, "NULL::text", ""
    wait = step["params"]
    if wait["mode"] == "duration":
        return f"{params.add(now + timedelta(minutes=int(wait['minutes'])))}::timestamptz", nothing, "NULL::text", ""
    if wait["mode"] == "event":
        until = params.add(now + timedelta(minutes=int(wait["timeout_minutes"])))
        return f"{until}::timestamptz", f"{until}::timestamptz", f"{params.add(wait['event'])}::text", ""
    at_now = params.add(now)
    zone = zone_sql(params, await workspace_zone(workspace_id))
    if wait["mode"] == "time_of_day":
        due, laterals = _local_due(params, 1, "0", int(wait["minute_of_day"]))
    else:
        weekday = params.add(int(wait["weekday"]))
        due, laterals = _local_due(
            params, 7, f"(({weekday}::int - (extract(isodow FROM rl.local)::int - 1)) + 7) % 7",
            int(wait["minute_of_day"]))
    joins = (f"JOIN subscribers s ON s.id = m.subscriber_id CROSS JOIN LATERAL (SELECT {zone} AS zone) rz "
             + laterals.format(now=at_now))
    return due, nothing, "NULL::text", joins


async def place(workspace_id: int, flow_id: int, version: int, step: dict[str, Any], moves: list[Move],
                now: datetime) -> int:
    """The enrolments (still live) put at `step` of `version`, lease released; how many were placed."""
    params = Params()
    due, timeout, event, joins = await _timing(params, workspace_id, step, now)
    ids = params.add([m.enrolment_id for m in moves])
    subscribers = params.add([m.subscriber_id for m in moves])
    visits = params.add([m.visit for m in moves])
    sql = f"""
    WITH placed AS (
        INSERT INTO flow_steps_due (enrolment_id, workspace_id, flow_id, version, subscriber_id, step_id, visit,
                                    due_at, lease_until, waiting_event, timeout_at)
        SELECT m.enrolment_id, {params.add(workspace_id)}::int, {params.add(flow_id)}::int,
               {params.add(version)}::int, m.subscriber_id, {params.add(step["id"])}::text, m.visit,
               {due}, NULL, {event}, {timeout}
        FROM unnest({ids}::bigint[], {subscribers}::bigint[], {visits}::smallint[])
            AS m(enrolment_id, subscriber_id, visit)
        JOIN flow_enrolments e ON e.id = m.enrolment_id AND e.status = 'active'
        {joins}
        ON CONFLICT (enrolment_id) DO UPDATE SET
            version = EXCLUDED.version, subscriber_id = EXCLUDED.subscriber_id, step_id = EXCLUDED.step_id,
            visit = EXCLUDED.visit,
            due_at = EXCLUDED.due_at, lease_until = NULL, waiting_event = EXCLUDED.waiting_event,
            timeout_at = EXCLUDED.timeout_at
        RETURNING 1
    )
    SELECT count(*) AS n FROM placed"""
    placed = int((await fetch(sql, params))[0]["n"])
    if placed:
        await statements.run("automations.count-entered", workspace_id, flow_id, version, step["id"], placed)
    return placed
