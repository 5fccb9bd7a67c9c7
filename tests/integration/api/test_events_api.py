"""`POST /api/v1/events`: a custom event about a subscriber (by id or address) is stored, starts the flows it
triggers and wakes the enrolments waiting for it; bad input and other workspaces' subscribers are refused."""

from __future__ import annotations

from datetime import timedelta

from app.services.accounts import now
from app.services.automations import custom_events, engine, triggers
from app.services.sqlparams import fetch_positional
from tests.api_client import api_key, bearer
from tests.factories import make_list, make_subscriber, make_subscribers, make_workspace
from tests.integration.automations.trigger_helpers import WAIT_FOR_EVENT, active_flow, enrolled, waiting_for

AFTER_THE_WAIT = [
    *[{**step, "next": "t1"} for step in WAIT_FOR_EVENT],
    {"id": "t1", "kind": "tag", "params": {"add": ["viewed"], "remove": []}, "next": None}]


async def _caller(scopes=("subscribers:write",)) -> tuple[dict, dict, dict[str, str]]:
    workspace = await make_workspace()
    return workspace, await make_list(workspace), bearer(await api_key(workspace, scopes=scopes))


async def _runs(flow: dict) -> list[tuple[str, str]]:
    rows = await fetch_positional("SELECT step_id, outcome FROM flow_step_runs WHERE flow_id = $1 ORDER BY id",
                                  [flow["id"]])
    return [(row["step_id"], row["outcome"]) for row in rows]


async def test_an_event_posted_wakes_a_waiting_enrolment_which_moves_on_at_once(client):
    workspace, mailing_list, headers = await _caller()
    ann, bob = await make_subscribers(mailing_list, 2)
    flow = await active_flow(workspace["id"], {"kind": "manual"}, steps=AFTER_THE_WAIT)
    moment = now()
    await triggers.enrol_audience(workspace["id"], flow["id"], list_id=mailing_list["id"], now=moment)
    answer = await client.post("/api/v1/events", headers=headers, json={
        "name": "viewed_offer", "subscriber_id": ann["id"], "properties": {"offer": 7, "price": 9.5}})
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert (body["name"], body["subscriber_ids"], body["enrolled"], body["woken"]) == (
        "viewed_offer", [ann["id"]], 0, 1)
    assert await waiting_for(flow) == {ann["id"]: None, bob["id"]: "viewed_offer"}
    await engine.advance_all(moment + timedelta(minutes=1))
    assert await _runs(flow) == [("w1", "event"), ("t1", "done")]


async def test_an_event_by_address_starts_the_flows_it_triggers_for_each_list(client):
    workspace, mailing_list, headers = await _caller()
    second = await make_list(workspace)
    first_row = await make_subscriber(mailing_list, "ann@example.org")
    second_row = await make_subscriber(second, "ann@example.org")
    flow = await active_flow(workspace["id"], {"kind": "event", "event": "trial_started"})
    answer = await client.post("/api/v1/events", headers=headers, json={
        "name": "trial_started", "email": "ANN@example.org", "occurred_at": "2026-11-30T18:04:00Z"})
    assert answer.status_code == 201, answer.text
    assert answer.json()["occurred_at"].startswith("2026-11-30T18:04:00")
    assert answer.json()["enrolled"] == 2
    assert await enrolled(flow) == [first_row["id"], second_row["id"]]


async def test_bad_input_is_refused_with_the_field_and_nothing_is_stored(client):
    workspace, mailing_list, headers = await _caller()
    [person] = await make_subscribers(mailing_list, 1)
    for body, field in [({"name": "opened", "subscriber_id": person["id"]}, "name"),
                        ({"name": "viewed offer", "subscriber_id": person["id"]}, "name"),
                        ({"name": "viewed_offer"}, "subscriber_id"),
                        ({"name": "viewed_offer", "email": "not an address"}, "email"),
                        ({"name": "viewed_offer", "subscriber_id": person["id"],
                          "occurred_at": "2126-01-01T00:00:00Z"}, "occurred_at"),
                        ({"name": "viewed_offer", "subscriber_id": person["id"],
                          "properties": {"blob": "x" * 20_000}}, "properties")]:
        answer = await client.post("/api/v1/events", headers=headers, json=body)
        assert answer.status_code == 422, (body, answer.text)
        assert field in answer.json()["error"]["fields"], answer.text
    assert await custom_events.had_event(workspace["id"], [person["id"]], "viewed_offer",
                                         now() - timedelta(days=1)) == set()


async def test_another_workspaces_subscriber_is_a_404_and_the_scope_is_required(client):
    _, _, headers = await _caller()
    stranger = await make_workspace()
    [theirs] = await make_subscribers(await make_list(stranger), 1)
    for body in ({"name": "viewed_offer", "subscriber_id": theirs["id"]},
                 {"name": "viewed_offer", "email": theirs["email"]}):
        answer = await client.post("/api/v1/events", headers=headers, json=body)
        assert answer.status_code == 404, answer.text
    reader = bearer(await api_key(stranger, scopes=("subscribers:read",)))
    answer = await client.post("/api/v1/events", headers=reader, json={"name": "viewed_offer",
                                                                        "subscriber_id": theirs["id"]})
    assert answer.status_code == 403
    assert await custom_events.had_event(stranger["id"], [theirs["id"]], "viewed_offer",
                                         now() - timedelta(days=1)) == set()
