"""The engine runs each step kind on people as time is moved forward by the test (never a real sleep)."""

from __future__ import annotations

from datetime import timedelta

from app.services.automations import engine, flows
from app.services.sqlparams import fetch_positional
from app.services.subscribers import ensure_tag
from tests.factories import make_list, make_subscriber, make_subscribers, make_workspace
from tests.integration.automations.engine_helpers import (
    NOW,
    active_flow,
    advance,
    counters,
    due,
    enrolments,
    give_tag,
    runs,
    stats,
    step,
    tag_segment,
    tags_of,
)


async def test_a_duration_wait_holds_people_until_it_ends_then_the_next_step_runs():
    workspace = await make_workspace()
    people = await make_subscribers(await make_list(workspace), 3)
    flow = await active_flow(workspace["id"], [
        step("s1", "wait", {"mode": "duration", "minutes": 1440}, "s2"),
        step("s2", "tag", {"add": ["welcomed"]}),
    ])
    ids = [p["id"] for p in people]

    assert await engine.enrol(workspace["id"], flow["id"], ids, now=NOW) == 3
    await advance(NOW + timedelta(hours=23))
    assert await tags_of(ids[0]) == set()
    assert {row["due_at"] for row in (await due(flow["id"])).values()} == {NOW + timedelta(days=1)}

    await advance(NOW + timedelta(days=1))
    assert [await tags_of(i) for i in ids] == [{"welcomed"}] * 3
    assert {row["status"] for row in (await enrolments(flow["id"])).values()} == {"completed"}
    assert await due(flow["id"]) == {}
    figures = await stats(flow["id"])
    assert (figures["s1"]["entered"], figures["s1"]["done"], figures["s1"]["waiting"]) == (3, 3, 0)
    assert (figures["s2"]["entered"], figures["s2"]["done"]) == (3, 3)
    flow_counts = await counters(flow["id"])
    assert (flow_counts["enrolled"], flow_counts["active"], flow_counts["completed"]) == (3, 0, 3)


async def test_a_time_of_day_wait_ends_at_that_time_in_the_subscribers_own_zone():
    workspace = await make_workspace()
    mailing_list = await make_list(workspace)
    new_york = await make_subscriber(mailing_list, "ny@example.com", timezone="America/New_York")
    tokyo = await make_subscriber(mailing_list, "tokyo@example.com", timezone="Asia/Tokyo")
    flow = await active_flow(workspace["id"], [step("s1", "wait", {"mode": "time_of_day", "minute_of_day": 8 * 60})])

    await engine.enrol(workspace["id"], flow["id"], [new_york["id"], tokyo["id"]], now=NOW)

    waiting = await due(flow["id"])
    # 09:00 UTC is 04:00 in New York (08:00 comes at 13:00 UTC) and 18:00 in Tokyo (next 08:00 is 23:00 UTC).
    assert waiting[new_york["id"]]["due_at"] == NOW + timedelta(hours=4)
    assert waiting[tokyo["id"]]["due_at"] == NOW + timedelta(hours=14)


async def test_a_weekday_wait_ends_on_the_next_such_day_at_its_time():
    workspace = await make_workspace()
    person = await make_subscriber(await make_list(workspace), "a@example.com", timezone="UTC")
    # NOW is Tuesday 1 December 2026, 09:00 UTC; Monday is 0.
    flow = await active_flow(workspace["id"], [
        step("s1", "wait", {"mode": "weekday", "weekday": 0, "minute_of_day": 10 * 60}, "s2"),
        step("s2", "wait", {"mode": "weekday", "weekday": 1, "minute_of_day": 8 * 60}),
    ])

    await engine.enrol(workspace["id"], flow["id"], [person["id"]], now=NOW)
    monday = NOW + timedelta(days=6, hours=1)
    assert (await due(flow["id"]))[person["id"]]["due_at"] == monday

    await advance(monday)
    assert (await due(flow["id"]))[person["id"]]["due_at"] == NOW + timedelta(days=7, hours=-1)


async def test_an_event_wait_goes_on_when_the_event_happens_or_at_its_timeout():
    workspace = await make_workspace()
    people = await make_subscribers(await make_list(workspace), 2)
    flow = await active_flow(workspace["id"], [
        step("s1", "wait", {"mode": "event", "event": "clicked", "timeout_minutes": 120}, "s2"),
        step("s2", "end"),
    ])
    clicker, idle = people[0]["id"], people[1]["id"]
    await engine.enrol(workspace["id"], flow["id"], [clicker, idle], now=NOW)

    assert await engine.event_happened(workspace["id"], [clicker], "opened", now=NOW) == 0
    assert await engine.event_happened(workspace["id"], [clicker], "clicked", now=NOW + timedelta(minutes=5)) == 1
    await advance(NOW + timedelta(minutes=5))
    assert (clicker, "s1", 0, "event") in await runs(flow["id"])
    assert idle in await due(flow["id"])

    await advance(NOW + timedelta(minutes=120))
    assert set(await runs(flow["id"])) == {(clicker, "s1", 0, "event"), (clicker, "s2", 0, "done"),
                                            (idle, "s1", 0, "timeout"), (idle, "s2", 0, "done")}


async def test_a_field_condition_sends_people_down_yes_or_no():
    workspace = await make_workspace()
    mailing_list = await make_list(workspace)
    gold = await make_subscriber(mailing_list, "gold@example.com", {"plan": "Gold"})
    free = await make_subscriber(mailing_list, "free@example.com", {"plan": "free"})
    flow = await active_flow(workspace["id"], [
        step("s1", "condition", {"test": "field", "field": "plan", "op": "eq", "value": "gold"}, yes="s2", no="s3"),
        step("s2", "tag", {"add": ["vip"]}),
        step("s3", "tag", {"add": ["upsell"]}),
    ])

    await engine.enrol(workspace["id"], flow["id"], [gold["id"], free["id"]], now=NOW)
    await advance(NOW)

    assert await tags_of(gold["id"]) == {"vip"}
    assert await tags_of(free["id"]) == {"upsell"}
    figures = await stats(flow["id"])
    assert (figures["s1"]["yes"], figures["s1"]["no"]) == (1, 1)


async def test_a_segment_condition_and_an_event_condition_test_each_person():
    from app.services.segments import save_segment

    workspace = await make_workspace()
    mailing_list = await make_list(workspace)
    opener = await make_subscriber(mailing_list, "opener@example.com")
    other = await make_subscriber(mailing_list, "other@example.com")
    await give_tag(workspace["id"], opener["id"], "paris")
    segment = await save_segment(workspace["id"], tag_segment(mailing_list["id"], "paris"))
    await fetch_positional(
        "INSERT INTO events (workspace_id, subscriber_id, kind, occurred_at) VALUES ($1, $2, 'open', $3)",
        [workspace["id"], opener["id"], NOW - timedelta(minutes=30)])
    flow = await active_flow(workspace["id"], [
        step("s1", "condition", {"test": "segment", "segment_id": segment["id"]}, yes="s2", no="s2"),
        step("s2", "condition", {"test": "event", "event": "opened", "within_minutes": 60}, yes=None, no=None),
    ])

    await engine.enrol(workspace["id"], flow["id"], [opener["id"], other["id"]], now=NOW)
    await advance(NOW)

    assert set(await runs(flow["id"])) == {(opener["id"], "s1", 0, "yes"), (other["id"], "s1", 0, "no"),
                                            (opener["id"], "s2", 0, "yes"), (other["id"], "s2", 0, "no")}


async def test_field_list_unsubscribe_and_end_steps_change_the_subscriber():
    workspace = await make_workspace()
    source, target = await make_list(workspace), await make_list(workspace)
    person = await make_subscriber(source, "p@example.com", {"plan": "free"}, status="confirmed")
    flow = await active_flow(workspace["id"], [
        step("s1", "field", {"field": "plan", "value": "trial"}, "s2"),
        step("s2", "list", {"action": "copy", "list_id": target["id"]}, "s3"),
        step("s3", "unsubscribe", {}, "s4"),
        step("s4", "end"),
    ])

    await engine.enrol(workspace["id"], flow["id"], [person["id"]], now=NOW)
    await advance(NOW)

    rows = await fetch_positional("SELECT list_id, status, fields->>'plan' AS plan FROM subscribers "
                                  "WHERE email = 'p@example.com' ORDER BY list_id", [])
    assert [(r["list_id"], r["status"], r["plan"]) for r in rows] == [
        (source["id"], "unsubscribed", "trial"), (target["id"], "confirmed", "trial")]
    assert (await enrolments(flow["id"]))[person["id"]]["status"] == "completed"


async def test_a_move_to_another_list_carries_the_enrolment_to_the_new_row():
    workspace = await make_workspace()
    source, target = await make_list(workspace), await make_list(workspace)
    person = await make_subscriber(source, "m@example.com", status="confirmed")
    flow = await active_flow(workspace["id"], [
        step("s1", "list", {"action": "move", "list_id": target["id"]}, "s2"),
        step("s2", "tag", {"add": ["moved"]}),
    ])

    await engine.enrol(workspace["id"], flow["id"], [person["id"]], now=NOW)
    await advance(NOW)

    moved = await fetch_positional("SELECT id, list_id FROM subscribers WHERE email = 'm@example.com'", [])
    assert [row["list_id"] for row in moved] == [target["id"]]
    assert await tags_of(moved[0]["id"]) == {"moved"}
    assert {row["status"] for row in (await enrolments(flow["id"])).values()} == {"completed"}


async def test_a_goto_repeats_steps_up_to_its_limit_then_continues():
    workspace = await make_workspace()
    person = (await make_subscribers(await make_list(workspace), 1))[0]
    flow = await active_flow(workspace["id"], [
        step("s1", "wait", {"mode": "duration", "minutes": 60}, "s2"),
        step("s2", "goto", {"target": "s1", "limit": 2}, "s3"),
        step("s3", "tag", {"add": ["done"]}),
    ])

    await engine.enrol(workspace["id"], flow["id"], [person["id"]], now=NOW)
    for hour in range(1, 5):
        await advance(NOW + timedelta(hours=hour))

    assert await runs(flow["id"]) == [
        (person["id"], "s1", 0, "done"), (person["id"], "s2", 0, "yes"),
        (person["id"], "s1", 1, "done"), (person["id"], "s2", 1, "yes"),
        (person["id"], "s1", 2, "done"), (person["id"], "s2", 2, "no"), (person["id"], "s3", 2, "done")]
    assert await tags_of(person["id"]) == {"done"}


async def test_a_webhook_step_queues_a_signed_delivery_of_the_outbound_webhook_service():
    workspace = await make_workspace()
    person = (await make_subscribers(await make_list(workspace), 1))[0]
    flow = await active_flow(workspace["id"], [step("s1", "webhook", {"url": "https://hooks.example.com/flow"})])

    await engine.enrol(workspace["id"], flow["id"], [person["id"]], now=NOW)
    await advance(NOW)

    rows = await fetch_positional(
        "SELECT d.kind, d.payload, e.url, e.events FROM webhook_deliveries d "
        "JOIN webhook_endpoints e ON e.id = d.endpoint_id WHERE d.workspace_id = $1", [workspace["id"]])
    assert len(rows) == 1
    assert (rows[0]["kind"], rows[0]["url"]) == ("flow.webhook", "https://hooks.example.com/flow")
    assert f'"email": "{person["email"]}"' in rows[0]["payload"]


async def test_once_enrols_a_person_a_single_time_and_every_respects_the_minimum_gap():
    workspace = await make_workspace()
    person = (await make_subscribers(await make_list(workspace), 1))[0]
    once = await active_flow(workspace["id"], [step("s1", "end")])
    every = await active_flow(workspace["id"], [step("s1", "end")], {"enrolment": "every", "min_gap_hours": 24})

    for hours in (0, 1, 25):
        for flow in (once, every):
            await engine.enrol(workspace["id"], flow["id"], [person["id"]], now=NOW + timedelta(hours=hours))
        await advance(NOW + timedelta(hours=hours))

    assert len(await fetch_positional("SELECT 1 FROM flow_enrolments WHERE flow_id = $1", [once["id"]])) == 1
    assert len(await fetch_positional("SELECT 1 FROM flow_enrolments WHERE flow_id = $1", [every["id"]])) == 2


async def test_a_person_of_another_workspace_or_a_flow_not_active_enrols_no_one():
    workspace, stranger = await make_workspace(), await make_workspace()
    mine = (await make_subscribers(await make_list(workspace), 1))[0]
    theirs = (await make_subscribers(await make_list(stranger), 1, prefix="other"))[0]
    draft = await flows.create_flow(workspace["id"], {"name": "Draft", "steps": [step("s1", "end")]})
    flow = await active_flow(workspace["id"], [step("s1", "end")])

    assert await engine.enrol(workspace["id"], flow["id"], [theirs["id"]], now=NOW) == 0
    assert await engine.enrol(workspace["id"], draft["id"], [mine["id"]], now=NOW) == 0
    assert await engine.enrol(stranger["id"], flow["id"], [theirs["id"]], now=NOW) == 0


async def test_people_who_unsubscribed_or_entered_an_exit_segment_leave_as_they_advance():
    from app.services.segments import save_segment

    workspace = await make_workspace()
    mailing_list = await make_list(workspace)
    stays = await make_subscriber(mailing_list, "stays@example.com", status="confirmed")
    leaves = await make_subscriber(mailing_list, "leaves@example.com", status="confirmed")
    buyer = await make_subscriber(mailing_list, "buyer@example.com", status="confirmed")
    await ensure_tag(workspace["id"], "buyer")
    segment = await save_segment(workspace["id"], tag_segment(mailing_list["id"], "buyer"))
    flow = await active_flow(workspace["id"], [
        step("s1", "wait", {"mode": "duration", "minutes": 60}, "s2"), step("s2", "tag", {"add": ["nudged"]}),
    ], {"exit_on": ["unsubscribed", {"segment_id": segment["id"]}]})
    await engine.enrol(workspace["id"], flow["id"], [stays["id"], leaves["id"], buyer["id"]], now=NOW)

    await fetch_positional("UPDATE subscribers SET status = 'unsubscribed' WHERE id = $1", [leaves["id"]])
    await give_tag(workspace["id"], buyer["id"], "buyer")
    await advance(NOW + timedelta(hours=1))

    people = await enrolments(flow["id"])
    assert (people[leaves["id"]]["status"], people[leaves["id"]]["exit_reason"]) == ("exited", "unsubscribed")
    assert (people[buyer["id"]]["status"], people[buyer["id"]]["exit_reason"]) == ("exited", f"segment {segment['id']}")
    assert people[stays["id"]]["status"] == "completed"
    assert await tags_of(leaves["id"]) == set() and await tags_of(stays["id"]) == {"nudged"}
    assert (await stats(flow["id"]))["s1"]["exited"] == 2
    assert (await counters(flow["id"]))["exited"] == 2


async def test_the_goal_event_counts_a_conversion_and_converting_lets_people_go_when_the_flow_says_so():
    workspace = await make_workspace()
    people = await make_subscribers(await make_list(workspace), 2)
    flow = await active_flow(workspace["id"], [step("s1", "wait", {"mode": "duration", "minutes": 600})],
                             {"exit_on": ["converted"], "goal": {"event": "converted"}})
    await engine.enrol(workspace["id"], flow["id"], [p["id"] for p in people], now=NOW)

    await engine.event_happened(workspace["id"], [people[0]["id"]], "converted", now=NOW + timedelta(minutes=3))
    await engine.event_happened(workspace["id"], [people[0]["id"]], "converted", now=NOW + timedelta(minutes=4))

    found = await enrolments(flow["id"])
    assert found[people[0]["id"]]["converted_at"] == NOW + timedelta(minutes=3)
    assert (found[people[0]["id"]]["status"], found[people[0]["id"]]["exit_reason"]) == ("exited", "converted")
    assert found[people[1]["id"]]["status"] == "active"
    assert (await counters(flow["id"]))["converted"] == 1


async def test_a_paused_flow_holds_its_people_until_it_is_resumed():
    workspace = await make_workspace()
    person = (await make_subscribers(await make_list(workspace), 1))[0]
    flow = await active_flow(workspace["id"], [step("s1", "wait", {"mode": "duration", "minutes": 60}, "s2"),
                                               step("s2", "tag", {"add": ["later"]})])
    await engine.enrol(workspace["id"], flow["id"], [person["id"]], now=NOW)

    await flows.pause(workspace["id"], flow["id"])
    assert await engine.enrol(workspace["id"], flow["id"], [person["id"]], now=NOW) == 0
    await advance(NOW + timedelta(hours=2))
    assert await tags_of(person["id"]) == set()

    await flows.activate(workspace["id"], flow["id"])
    await advance(NOW + timedelta(hours=2))
    assert await tags_of(person["id"]) == {"later"}


async def test_archiving_a_flow_lets_everyone_inside_go():
    workspace = await make_workspace()
    people = await make_subscribers(await make_list(workspace), 2)
    flow = await active_flow(workspace["id"], [step("s1", "wait", {"mode": "duration", "minutes": 60})])
    await engine.enrol(workspace["id"], flow["id"], [p["id"] for p in people], now=NOW)

    await flows.archive(workspace["id"], flow["id"], now=NOW)

    assert {(row["status"], row["exit_reason"]) for row in (await enrolments(flow["id"])).values()} == {
        ("exited", "archived")}
    assert await due(flow["id"]) == {}
    assert (await counters(flow["id"]))["active"] == 0


async def test_the_minute_job_runs_steps_as_they_fall_due_on_the_real_clock():
    from datetime import UTC, datetime

    workspace = await make_workspace()
    person = (await make_subscribers(await make_list(workspace), 1))[0]
    flow = await active_flow(workspace["id"], [step("s1", "tag", {"add": ["now"]})])
    await engine.enrol(workspace["id"], flow["id"], [person["id"]], now=datetime.now(UTC))

    assert await engine.advance_for(0.3, poll_seconds=0.1) == 1
    assert await tags_of(person["id"]) == {"now"}


async def test_a_field_or_tag_set_by_a_flow_starts_the_flows_listening_for_that_change():
    workspace = await make_workspace()
    person = (await make_subscribers(await make_list(workspace), 1))[0]
    first = await active_flow(workspace["id"], [step("s1", "field", {"field": "plan", "value": "gold"}, "s2"),
                                                step("s2", "tag", {"add": ["vip"]})])
    on_field = await flows.create_flow(workspace["id"], {
        "name": "Gold", "trigger": {"kind": "field_changed", "field": "plan", "value": "gold"},
        "steps": [step("s1", "end")]})
    on_tag = await flows.create_flow(workspace["id"], {
        "name": "VIP", "trigger": {"kind": "tag_added", "tag": "vip"}, "steps": [step("s1", "end")]})
    for flow in (on_field, on_tag):
        await flows.activate(workspace["id"], flow["id"])

    await engine.enrol(workspace["id"], first["id"], [person["id"]], now=NOW)
    await advance(NOW)

    assert list(await enrolments(on_field["id"])) == [person["id"]]
    assert list(await enrolments(on_tag["id"])) == [person["id"]]


async def test_a_postback_conversion_reaches_a_flow_whose_goal_and_exit_it_is():
    from app.services.automations import triggers

    workspace = await make_workspace()
    person = (await make_subscribers(await make_list(workspace), 1))[0]
    flow = await active_flow(workspace["id"], [step("s1", "tag", {"add": ["nudged"]}, "s2"),
                                               step("s2", "wait", {"mode": "duration", "minutes": 600})],
                             {"exit_on": ["converted"], "goal": {"event": "converted"}})
    await engine.enrol(workspace["id"], flow["id"], [person["id"]], now=NOW)
    await advance(NOW)

    await triggers.converted(workspace["id"], person["id"], "offer-1", now=NOW + timedelta(minutes=1))

    assert (await counters(flow["id"]))["converted"] == 1
    assert (await enrolments(flow["id"]))[person["id"]]["exit_reason"] == "converted"
