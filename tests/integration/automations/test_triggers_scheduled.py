"""Triggers checked on a schedule (a date field reached in the subscriber's local time, entering a segment) with
time moved by the test, and imports that enrol only when they ask to."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from app.redis_client import get_redis
from app.services import imports, segments
from app.services.accounts import now
from app.services.automations import engine, scheduled_triggers
from app.services.custom_fields import add_field
from app.services.sqlparams import fetch_positional
from app.services.subscribers import update_subscriber
from tests.factories import make_list, make_subscriber, make_workspace, post_form, signed_in_client
from tests.integration.automations.trigger_helpers import active_flow, enrolled
from tests.integration.imports.helpers import import_file, web_upload, write

END = [{"id": "e1", "kind": "end", "params": {}, "next": None}]
EVERY_TIME = {"enrolment": "every", "min_gap_hours": 0}
BIRTHDAY = {"kind": "date", "field": "birthday", "offset_days": 0, "minute_of_day": 540}
PARIS = {"kind": "field", "field": "city", "op": "equals", "value": "Paris"}


def at(day: str, clock: str) -> datetime:
    return datetime.fromisoformat(f"{day}T{clock}:00").replace(tzinfo=UTC)


async def _enrol_dates(moment: datetime) -> None:
    """The date job at `moment`, and the flow run to its end so an enrolment no longer blocks the next one."""
    await scheduled_triggers.enrol_due_dates(moment)
    await engine.advance_all(moment)


async def test_a_birthday_enrols_once_that_local_day_from_its_local_hour():
    workspace = await make_workspace()
    mailing_list = await make_list(workspace)
    ann = await make_subscriber(mailing_list, "ann@example.org", {"birthday": "1990-12-01"})
    ned = await make_subscriber(mailing_list, "ned@example.org", {"birthday": "1985-12-01"},
                                timezone="America/New_York")
    await make_subscriber(mailing_list, "tim@example.org", {"birthday": "1990-12-02"})
    await make_subscriber(mailing_list, "bad@example.org", {"birthday": "someday"})
    await make_subscriber(mailing_list, "gone@example.org", {"birthday": "1990-12-01"}, status="unsubscribed")
    flow = await active_flow(workspace["id"], BIRTHDAY, steps=END, settings=EVERY_TIME)
    await _enrol_dates(at("2026-12-01", "08:55"))
    assert await enrolled(flow) == []
    await _enrol_dates(at("2026-12-01", "09:05"))
    assert await enrolled(flow) == [ann["id"]]
    # 09:10 in London is 04:10 in New York; the job runs again later that day, and once it is 09:00 there.
    await _enrol_dates(at("2026-12-01", "09:10"))
    await _enrol_dates(at("2026-12-01", "14:10"))
    assert await enrolled(flow) == [ann["id"], ned["id"]]
    await _enrol_dates(at("2027-12-01", "10:00"))
    assert await enrolled(flow) == [ann["id"], ned["id"], ann["id"]]


async def test_an_offset_fires_days_before_and_a_leap_day_birthday_comes_on_the_first_of_march():
    workspace = await make_workspace()
    mailing_list = await make_list(workspace)
    ann = await make_subscriber(mailing_list, "ann@example.org", {"birthday": "1990-12-01"})
    leap = await make_subscriber(mailing_list, "leap@example.org", {"birthday": "2000-02-29"})
    eve = await active_flow(workspace["id"], {**BIRTHDAY, "offset_days": -1}, steps=END, settings=EVERY_TIME)
    day = await active_flow(workspace["id"], BIRTHDAY, steps=END, settings=EVERY_TIME)
    await _enrol_dates(at("2026-11-30", "10:00"))
    assert (await enrolled(eve), await enrolled(day)) == ([ann["id"]], [])
    await _enrol_dates(at("2027-02-28", "10:00"))
    await _enrol_dates(at("2027-03-01", "10:00"))
    await _enrol_dates(at("2028-02-29", "10:00"))
    await _enrol_dates(at("2028-03-01", "10:00"))
    assert await enrolled(day) == [leap["id"], leap["id"]]
    # The eve of a 1 March occasion is 28 February; in a leap year the occasion is 29 February, its eve the 28th.
    assert await enrolled(eve) == [ann["id"], leap["id"]]


async def test_entering_a_segment_enrols_at_the_next_check_and_coming_back_enters_again():
    workspace = await make_workspace()
    mailing_list = await make_list(workspace)
    await add_field(workspace["id"], mailing_list["id"], {"label": "City", "tag": "city", "kind": "text"})
    ann = await make_subscriber(mailing_list, "ann@example.org", {"city": "Paris"})
    bob = await make_subscriber(mailing_list, "bob@example.org", {"city": "Berlin"})
    segment = await segments.save_segment(workspace["id"], {
        "name": "Parisians", "list_ids": [mailing_list["id"]], "conditions": {"match": "all", "rules": [PARIS]}})
    flow = await active_flow(workspace["id"], {"kind": "segment", "segment_id": segment["id"]}, steps=END,
                             settings=EVERY_TIME)
    moment = now()
    assert await scheduled_triggers.enrol_segment_entrants(moment) == 1
    assert await scheduled_triggers.enrol_segment_entrants(moment + timedelta(minutes=15)) == 0
    await update_subscriber(workspace["id"], bob["id"], {"email": "bob@example.org", "field_city": "Paris"})
    await update_subscriber(workspace["id"], ann["id"], {"email": "ann@example.org", "field_city": "Rome"})
    await engine.advance_all(moment + timedelta(minutes=30))
    assert await scheduled_triggers.enrol_segment_entrants(moment + timedelta(minutes=30)) == 1
    await update_subscriber(workspace["id"], ann["id"], {"email": "ann@example.org", "field_city": "Paris"})
    assert await scheduled_triggers.enrol_segment_entrants(moment + timedelta(minutes=45)) == 1
    assert await enrolled(flow) == [ann["id"], bob["id"], ann["id"]]


async def test_an_import_enrols_the_people_it_added_only_when_asked(tmp_path):
    workspace = await make_workspace()
    mailing_list = await make_list(workspace)
    flow = await active_flow(workspace["id"], {"kind": "subscribed", "list_id": mailing_list["id"]})
    rows = "".join(f"q{i}@example.org\n" for i in range(50))
    quiet = await import_file(workspace["id"], mailing_list["id"], write(tmp_path / "quiet.csv", "email\n" + rows))
    assert quiet["inserted"] == 50
    assert await enrolled(flow) == []
    asked = await import_file(workspace["id"], mailing_list["id"],
                              write(tmp_path / "asked.csv", "email\nnew@example.org\nq1@example.org\n"),
                              options={"enrol_flows": True})
    assert asked["inserted"] == 1
    new = await fetch_positional("SELECT id FROM subscribers WHERE list_id = $1 AND email = 'new@example.org'",
                                 [mailing_list["id"]])
    assert await enrolled(flow) == [new[0]["id"]]


async def test_the_import_form_asks_whether_to_enrol_and_passes_the_answer_on(client):
    workspace, _ = await signed_in_client(client)
    mailing_list = await make_list(workspace)
    flow = await active_flow(workspace["id"], {"kind": "subscribed", "list_id": mailing_list["id"]})
    uploaded = await web_upload(client, mailing_list["id"], "people.csv", b"email\nann@example.org\n")
    import_id = int(uploaded.headers["location"].split("/")[3])
    mapping = await client.get(uploaded.headers["location"])
    checkbox = re.search(r'<input[^>]*name="enrol_flows"[^>]*>', mapping.text)
    assert checkbox and "checked" not in checkbox.group(0), "an import enrols no one unless the box is ticked"
    started = await post_form(client, f"/mailing/imports/{import_id}/start", {
        "column_0": "email", "mode": "add", "status": "confirmed", "has_header": "yes", "enrol_flows": "on"})
    assert started.status_code == 303
    final = await imports.run_import(workspace["id"], import_id, get_redis())
    assert final["options"]["enrol_flows"] is True and final["inserted"] == 1
    assert len(await enrolled(flow)) == 1


async def test_a_segment_deleted_or_broken_under_its_flow_does_not_stop_the_other_flows_check():
    workspace = await make_workspace()
    mailing_list = await make_list(workspace)
    await add_field(workspace["id"], mailing_list["id"], {"label": "City", "tag": "city", "kind": "text"})
    ann = await make_subscriber(mailing_list, "ann@example.org", {"city": "Paris"})
    definition = {"list_ids": [mailing_list["id"]], "conditions": {"match": "all", "rules": [PARIS]}}
    deleted, broken, kept = [await segments.save_segment(workspace["id"], {"name": name, **definition})
                             for name in ("Deleted", "Broken", "Kept")]
    orphans = [await active_flow(workspace["id"], {"kind": "segment", "segment_id": segment["id"]})
               for segment in (deleted, broken)]
    flow = await active_flow(workspace["id"], {"kind": "segment", "segment_id": kept["id"]})
    await fetch_positional("DELETE FROM segments WHERE id = $1", [deleted["id"]])
    await fetch_positional("UPDATE segments SET conditions = jsonb_set(conditions, '{rules,0,field}', '\"gone\"') "
                           "WHERE id = $1", [broken["id"]])
    await scheduled_triggers.enrol_segment_entrants(now())
    assert [await enrolled(orphan) for orphan in orphans] == [[], []]
    assert await enrolled(flow) == [ann["id"]]
