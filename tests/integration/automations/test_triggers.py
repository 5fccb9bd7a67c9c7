"""Each trigger fires from the place that causes it: subscribing, confirming, a tag, a field, opens, clicks,
conversions, custom events and manual enrolment; waits for an event are woken by it."""

from __future__ import annotations

from datetime import timedelta

import pytest

from app.redis_client import get_redis
from app.services import segments, subscriptions
from app.services.accounts import now
from app.services.automations import custom_events, engine, flows, triggers
from app.services.custom_fields import add_field
from app.services.forms import FormError
from app.services.sqlparams import fetch_positional
from app.services.subscriber_actions import BulkOrder, apply
from app.services.subscribers import SubscriberFilter, add_subscriber, change_status, update_subscriber
from app.services.subscribers.bulk import upsert_many
from app.services.tracking.conversions import rotate_postback_secret
from app.settings import get_settings
from tests.factories import make_list, make_subscriber, make_subscribers, make_workspace
from tests.integration.automations.trigger_helpers import WAIT_FOR_EVENT, active_flow, enrolled, waiting_for
from tests.integration.tracking.helpers import drain_all, hrefs, path_of, pixel, sent_campaign
from tests.integration.tracking.offer_helpers import postback

PARIS = {"kind": "field", "field": "city", "op": "equals", "value": "Paris"}


async def test_subscribing_to_the_list_enrols_and_other_lists_or_unconfirmed_people_do_not():
    workspace = await make_workspace()
    welcome, other = await make_list(workspace), await make_list(workspace)
    flow = await active_flow(workspace["id"], {"kind": "subscribed", "list_id": welcome["id"]})
    ann = await add_subscriber(workspace["id"], welcome["id"], {"email": "ann@example.org"})
    await add_subscriber(workspace["id"], other["id"], {"email": "bob@example.org"})
    await add_subscriber(workspace["id"], welcome["id"], {"email": "cat@example.org"}, status="unconfirmed")
    [added] = await upsert_many(workspace["id"], welcome["id"], [("dan@example.org", {})])
    assert await enrolled(flow) == [ann["id"], added.id]


async def test_confirming_by_double_opt_in_fires_confirmed_and_subscribed():
    workspace = await make_workspace()
    mailing_list = await make_list(workspace, opt_in="double")
    confirmed = await active_flow(workspace["id"], {"kind": "confirmed", "list_id": mailing_list["id"]})
    subscribed = await active_flow(workspace["id"], {"kind": "subscribed", "list_id": mailing_list["id"]})
    cat = await add_subscriber(workspace["id"], mailing_list["id"], {"email": "cat@example.org"}, status="unconfirmed")
    assert await enrolled(subscribed) == []
    secret = get_settings().security.secret_key
    token = subscriptions._confirm_serializer(secret).dumps(cat["id"])
    assert await subscriptions.confirm(get_redis(), secret, token, "203.0.113.9") is not None
    assert await enrolled(confirmed) == [cat["id"]]
    assert await enrolled(subscribed) == [cat["id"]]


async def test_resubscribing_by_hand_is_subscribing_but_not_confirming():
    workspace = await make_workspace()
    mailing_list = await make_list(workspace)
    [person] = await make_subscribers(mailing_list, 1, status="unsubscribed")
    confirmed = await active_flow(workspace["id"], {"kind": "confirmed", "list_id": mailing_list["id"]})
    subscribed = await active_flow(workspace["id"], {"kind": "subscribed", "list_id": mailing_list["id"]})
    await change_status(workspace["id"], SubscriberFilter(ids=[person["id"]]), "confirmed", "manual")
    assert (await enrolled(subscribed), await enrolled(confirmed)) == ([person["id"]], [])


async def test_a_tag_added_enrols_only_those_who_did_not_have_it():
    workspace = await make_workspace()
    mailing_list = await make_list(workspace)
    ann, bob, cat = await make_subscribers(mailing_list, 3)
    await apply(workspace["id"], BulkOrder(action="tag", scope="selection", chosen=SubscriberFilter(),
                                           ids=[ann["id"]], tag_name="vip"))
    flow = await active_flow(workspace["id"], {"kind": "tag_added", "tag": "vip"})
    await apply(workspace["id"], BulkOrder(action="tag", scope="selection", chosen=SubscriberFilter(),
                                           ids=[ann["id"], bob["id"]], tag_name="vip"))
    await apply(workspace["id"], BulkOrder(action="tag", scope="selection", chosen=SubscriberFilter(),
                                           ids=[cat["id"]], tag_name="cold"))
    assert await enrolled(flow) == [bob["id"]]


async def test_a_field_changed_to_the_value_enrols_and_other_changes_do_not():
    workspace = await make_workspace()
    mailing_list = await make_list(workspace)
    await add_field(workspace["id"], mailing_list["id"], {"label": "Plan", "tag": "plan", "kind": "text"})
    ann = await make_subscriber(mailing_list, "ann@example.org", {"plan": "silver"})
    bob = await make_subscriber(mailing_list, "bob@example.org", {"plan": "gold"})
    gold = await active_flow(workspace["id"], {"kind": "field_changed", "field": "plan", "value": "gold"})
    any_change = await active_flow(workspace["id"], {"kind": "field_changed", "field": "plan", "value": None})
    await update_subscriber(workspace["id"], ann["id"], {"email": "ann@example.org", "field_plan": "gold"})
    await update_subscriber(workspace["id"], bob["id"], {"email": "bob@example.org", "field_plan": "gold"})
    await update_subscriber(workspace["id"], bob["id"], {"email": "bob@example.org", "field_plan": "bronze"})
    assert await enrolled(gold) == [ann["id"]]
    assert await enrolled(any_change) == [ann["id"], bob["id"]]


async def test_opening_and_clicking_through_the_aggregator_enrol_by_campaign(client):
    sent = await sent_campaign(recipients=2)
    workspace_id = sent.workspace["id"]
    first, second = sent.deliveries
    opened = await active_flow(workspace_id, {"kind": "opened", "campaign_id": sent.campaign["id"]})
    elsewhere = await active_flow(workspace_id, {"kind": "opened", "campaign_id": sent.campaign["id"] + 1000})
    clicked = await active_flow(workspace_id, {"kind": "clicked", "campaign_id": None})
    assert (await client.get(path_of(pixel(sent.message(first))))).status_code == 200
    link = next(href for href in hrefs(sent.message(second)) if "/c/" in href)
    assert (await client.get(path_of(link))).status_code in (302, 303, 307)
    await drain_all(get_redis())
    assert await enrolled(opened) == [first["subscriber_id"]]
    assert await enrolled(clicked) == [second["subscriber_id"]]
    assert await enrolled(elsewhere) == []


class AggregatorDied(Exception):
    pass


async def _die() -> None:
    raise AggregatorDied


async def test_opens_written_again_after_their_aggregator_died_enrol_no_one_twice(client):
    sent = await sent_campaign(recipients=1)
    [delivery] = sent.deliveries
    flow = await active_flow(sent.workspace["id"], {"kind": "opened", "campaign_id": None},
                             steps=[{"id": "e1", "kind": "end", "params": {}, "next": None}],
                             settings={"enrolment": "every", "min_gap_hours": 0})
    assert (await client.get(path_of(pixel(sent.message(delivery))))).status_code == 200
    with pytest.raises(AggregatorDied):
        await drain_all(get_redis(), consumer="doomed", before_ack=_die)
    await engine.advance_all(now())
    await drain_all(get_redis(), consumer="successor", reclaim_after_ms=0)
    assert await enrolled(flow) == [delivery["subscriber_id"]]


async def test_a_postback_enrols_in_flows_of_any_offer_or_its_own(client):
    sent = await sent_campaign(recipients=1)
    [delivery] = sent.deliveries
    workspace_id = sent.workspace["id"]
    key = await rotate_postback_secret(workspace_id)
    any_offer = await active_flow(workspace_id, {"kind": "converted", "offer_id": None})
    offer_7 = await active_flow(workspace_id, {"kind": "converted", "offer_id": "7"})
    offer_8 = await active_flow(workspace_id, {"kind": "converted", "offer_id": "8"})
    posted = await postback(client, key=key, transaction_id="tx-1", sub3=delivery["id"], offer_id="7", payout="2")
    assert posted.status_code == 200, posted.text
    replayed = await postback(client, key=key, transaction_id="tx-1", sub3=delivery["id"], offer_id="7", payout="2")
    assert replayed.status_code == 200
    assert await enrolled(any_offer) == await enrolled(offer_7) == [delivery["subscriber_id"]]
    assert await enrolled(offer_8) == []


async def test_a_postback_counts_the_goal_of_flows_and_lets_people_leave_those_that_exit_on_it(client):
    sent = await sent_campaign(recipients=1)
    [delivery] = sent.deliveries
    workspace_id = sent.workspace["id"]
    key = await rotate_postback_secret(workspace_id)
    goal = await active_flow(workspace_id, {"kind": "manual"}, settings={"goal": {"event": "converted"}})
    leaving = await active_flow(workspace_id, {"kind": "manual"}, settings={"exit_on": ["converted"]})
    for flow in (goal, leaving):
        await triggers.enrol_audience(workspace_id, flow["id"], list_id=sent.campaign["list_ids"][0], now=now())
    posted = await postback(client, key=key, transaction_id="tx-2", sub3=delivery["id"], payout="5")
    assert posted.status_code == 200, posted.text
    rows = await fetch_positional("SELECT flow_id, status, exit_reason, converted_at IS NOT NULL AS converted "
                                  "FROM flow_enrolments WHERE workspace_id = $1 ORDER BY flow_id", [workspace_id])
    assert [(row["status"], row["exit_reason"], row["converted"]) for row in rows] == [
        ("active", "", True), ("exited", "converted", False)]


async def test_a_custom_event_enrols_its_flows_and_wakes_the_people_waiting_for_it():
    workspace = await make_workspace()
    mailing_list = await make_list(workspace)
    ann, bob = await make_subscribers(mailing_list, 2)
    started = await active_flow(workspace["id"], {"kind": "event", "event": "viewed_offer"})
    other = await active_flow(workspace["id"], {"kind": "event", "event": "trial_started"})
    waiting = await active_flow(workspace["id"], {"kind": "manual"}, steps=WAIT_FOR_EVENT)
    assert await triggers.enrol_audience(workspace["id"], waiting["id"], list_id=mailing_list["id"], now=now()) == 2
    assert await waiting_for(waiting) == {ann["id"]: "viewed_offer", bob["id"]: "viewed_offer"}
    posted = await custom_events.post_event(workspace["id"], "viewed_offer", subscriber_id=ann["id"],
                                            properties={"offer": 7}, now=now())
    assert (posted.enrolled, posted.woken) == (1, 1)
    assert await enrolled(started) == [ann["id"]]
    assert await enrolled(other) == []
    assert (await waiting_for(waiting))[bob["id"]] == "viewed_offer"
    assert (await waiting_for(waiting)).get(ann["id"]) is None


async def test_an_event_by_address_is_stored_for_each_list_and_answers_conditions():
    workspace = await make_workspace()
    first, second = await make_list(workspace), await make_list(workspace)
    on_first = await make_subscriber(first, "ann@example.org")
    on_second = await make_subscriber(second, "ann@example.org")
    moment = now()
    posted = await custom_events.post_event(workspace["id"], "viewed_offer", email="Ann@Example.org",
                                            occurred_at=moment - timedelta(minutes=30), now=moment)
    assert posted.subscriber_ids == [on_first["id"], on_second["id"]]
    both = {on_first["id"], on_second["id"]}
    assert await custom_events.had_event(workspace["id"], both, "viewed_offer", moment - timedelta(hours=1)) == both
    assert await custom_events.had_event(workspace["id"], both, "viewed_offer", moment - timedelta(minutes=10)) \
        == set()
    only_second = await custom_events.post_event(workspace["id"], "viewed_offer", email="ann@example.org",
                                                 list_id=second["id"], now=moment)
    assert only_second.subscriber_ids == [on_second["id"]]


@pytest.mark.parametrize(("name", "field"), [("opened", "name"), ("bad name!", "name"), ("", "name")])
async def test_an_event_the_platform_records_or_a_malformed_name_is_refused(name, field):
    workspace = await make_workspace()
    [person] = await make_subscribers(await make_list(workspace), 1)
    with pytest.raises(FormError) as refused:
        await custom_events.post_event(workspace["id"], name, subscriber_id=person["id"], now=now())
    assert field in refused.value.errors
    assert await custom_events.had_event(workspace["id"], [person["id"]], name, now() - timedelta(days=1)) == set()


async def test_another_workspaces_subscriber_is_not_found():
    workspace, stranger = await make_workspace(), await make_workspace()
    [person] = await make_subscribers(await make_list(stranger), 1)
    with pytest.raises(LookupError):
        await custom_events.post_event(workspace["id"], "viewed_offer", subscriber_id=person["id"], now=now())
    with pytest.raises(LookupError):
        await custom_events.post_event(workspace["id"], "viewed_offer", email=person["email"], now=now())


async def test_manual_enrolment_of_a_list_or_a_segment_into_an_active_flow():
    workspace = await make_workspace()
    mailing_list = await make_list(workspace)
    people = await make_subscribers(mailing_list, 3)
    await make_subscribers(mailing_list, 1, status="unsubscribed", prefix="gone")
    await add_field(workspace["id"], mailing_list["id"], {"label": "City", "tag": "city", "kind": "text"})
    paris = await make_subscriber(mailing_list, "paris@example.org", {"city": "Paris"})
    segment = await segments.save_segment(workspace["id"], {
        "name": "Parisians", "list_ids": [mailing_list["id"]],
        "conditions": {"match": "all", "rules": [PARIS]}})
    by_list = await active_flow(workspace["id"], {"kind": "manual"})
    by_segment = await active_flow(workspace["id"], {"kind": "manual"})
    assert await triggers.enrol_audience(workspace["id"], by_list["id"], list_id=mailing_list["id"], now=now()) == 4
    assert await triggers.enrol_audience(workspace["id"], by_list["id"], list_id=mailing_list["id"], now=now()) == 0
    assert await enrolled(by_list) == [person["id"] for person in people] + [paris["id"]]
    assert await triggers.enrol_audience(workspace["id"], by_segment["id"], segment_id=segment["id"], now=now()) == 1
    assert await enrolled(by_segment) == [paris["id"]]


async def test_manual_enrolment_refuses_a_draft_flow_and_another_workspaces_list():
    workspace, stranger = await make_workspace(), await make_workspace()
    theirs = await make_list(stranger)
    flow = await active_flow(workspace["id"], {"kind": "manual"})
    with pytest.raises(LookupError):
        await triggers.enrol_audience(workspace["id"], flow["id"], list_id=theirs["id"], now=now())
    with pytest.raises(FormError):
        await triggers.enrol_audience(workspace["id"], flow["id"], now=now())
    draft = await flows.create_flow(workspace["id"], {"name": "Draft", "steps": []})
    with pytest.raises(FormError):
        await triggers.enrol_audience(workspace["id"], draft["id"], list_id=(await make_list(workspace))["id"],
                                      now=now())
    with pytest.raises(LookupError):
        await triggers.enrol_audience(stranger["id"], flow["id"], list_id=theirs["id"], now=now())


async def test_what_a_workspace_listens_for_is_cached_until_a_flow_changes_it():
    workspace = await make_workspace()
    mailing_list = await make_list(workspace)
    assert await triggers.listening(workspace["id"]) == triggers.Listening()
    flow = await flows.create_flow(workspace["id"], {"name": "Welcome", "steps": WAIT_FOR_EVENT, "settings": {},
                                                     "trigger": {"kind": "subscribed", "list_id": mailing_list["id"]}})
    await flows.activate(workspace["id"], flow["id"])
    cached = await triggers.listening(workspace["id"])
    triggers.forget_listening(workspace["id"])
    fresh = await triggers.listening(workspace["id"])
    assert cached == triggers.Listening() or cached == fresh
    assert fresh.flows("subscribed") == [(flow["id"], {"kind": "subscribed", "list_id": mailing_list["id"]})]
    assert fresh.waited == frozenset({"viewed_offer"})
    assert fresh.hears(("opened",), ("viewed_offer",)) and not fresh.hears(("opened",), ("clicked",))
