"""Each producer publishes its events: subscriptions, opt-outs, bounces, complaints, opens and clicks,
campaigns finishing, imports finishing. Events nobody listens to cost no row."""

from __future__ import annotations

import json

from app.redis_client import get_redis
from app.services.bounces import actions
from app.services.bounces.classifier import classify_reply
from app.services.campaigns import finish_if_done
from app.services.sqlparams import fetch_positional
from app.services.subscriber_actions import BulkOrder, apply
from app.services.subscribers import SubscriberFilter, add_subscriber, change_status
from app.services.tracking.conversions import rotate_postback_secret
from app.services.webhooks import endpoints, producers
from app.services.webhooks.delivery import deliver_due
from tests.factories import make_list, make_subscribers, make_workspace
from tests.integration.bounces.helpers_processing import sent_delivery
from tests.integration.tracking.helpers import drain_all, hrefs, path_of, pixel, sent_campaign
from tests.integration.tracking.offer_helpers import postback
from tests.integration.webhooks.helpers import deliveries, loopback_endpoint
from tests.integration.webhooks.receiver import running_receiver


async def _listening(workspace: dict, *kinds: str) -> None:
    await endpoints.create_endpoint(workspace["id"], {"url": "https://hooks.example.com/in", "events": list(kinds)})


def _events(rows: list[dict]) -> list[tuple[str, str]]:
    return [(row["kind"], json.loads(row["payload"]).get("email", "")) for row in rows]


async def test_a_confirmed_subscriber_added_and_one_unsubscribed_are_published():
    workspace = await make_workspace()
    mailing_list = await make_list(workspace)
    await _listening(workspace, "subscriber.subscribed", "subscriber.unsubscribed")
    added = await add_subscriber(workspace["id"], mailing_list["id"], {"email": "ann@example.org"})
    await add_subscriber(workspace["id"], mailing_list["id"], {"email": "tim@example.org"}, status="unconfirmed")
    await change_status(workspace["id"], SubscriberFilter(ids=[added["id"]]), "unsubscribed", "test")
    await change_status(workspace["id"], SubscriberFilter(ids=[added["id"]]), "unsubscribed", "test")
    assert _events(await deliveries(workspace)) == [("subscriber.subscribed", "ann@example.org"),
                                                    ("subscriber.unsubscribed", "ann@example.org")]


async def test_a_bulk_unsubscribe_publishes_one_event_per_subscriber_moved():
    workspace = await make_workspace()
    mailing_list = await make_list(workspace)
    people = await make_subscribers(mailing_list, 3)
    await _listening(workspace, "subscriber.unsubscribed")
    await apply(workspace["id"], BulkOrder(action="unsubscribe", scope="selection", chosen=SubscriberFilter(),
                                           ids=[person["id"] for person in people]))
    rows = await deliveries(workspace)
    assert sorted(email for _, email in _events(rows)) == sorted(person["email"] for person in people)
    assert len({row["event_id"] for row in rows}) == 3


async def test_a_hard_bounce_and_a_complaint_are_published():
    workspace = await make_workspace()
    await _listening(workspace, "message.bounced", "message.complained")
    bounced = await sent_delivery(workspace, "gone@example.org")
    await actions.record_answers(workspace["id"], [(bounced["id"], classify_reply(550, "5.1.1 User unknown"))])
    assert _events(await deliveries(workspace)) == [("message.bounced", "gone@example.org")]


async def test_people_opening_are_published_with_the_address_and_robots_are_not(client):
    sent = await sent_campaign(recipients=2)
    await _listening(sent.workspace, "message.opened")
    for delivery in sent.deliveries:
        assert (await client.get(path_of(pixel(sent.message(delivery))))).status_code == 200
    await drain_all(get_redis())
    assert sorted(_events(await deliveries(sent.workspace))) == sorted(
        ("message.opened", delivery["email"]) for delivery in sent.deliveries)


async def test_an_import_ending_is_published():
    workspace = await make_workspace()
    await _listening(workspace, "import.finished")
    await producers.import_finished({"id": 4, "workspace_id": workspace["id"], "status": "completed",
                                     "list_id": 9, "inserted": 12})
    [row] = await deliveries(workspace)
    assert row["kind"] == "import.finished" and '"inserted": 12' in row["payload"]


async def test_nothing_is_stored_for_a_workspace_without_endpoints_and_the_worker_finds_nothing():
    workspace = await make_workspace()
    mailing_list = await make_list(workspace)
    added = await add_subscriber(workspace["id"], mailing_list["id"], {"email": "ann@example.org"})
    await change_status(workspace["id"], SubscriberFilter(ids=[added["id"]]), "unsubscribed", "test")
    assert await deliveries(workspace) == []
    assert await deliver_due(get_redis()) == 0


async def test_a_published_event_reaches_the_receiver_end_to_end():
    workspace = await make_workspace()
    mailing_list = await make_list(workspace)
    async with running_receiver() as receiver:
        _, secret = await loopback_endpoint(workspace, receiver.url, events=("subscriber.subscribed",))
        await add_subscriber(workspace["id"], mailing_list["id"], {"email": "ann@example.org"})
        await deliver_due(get_redis())
    [received] = receiver.received
    assert received.signed_by(secret)
    assert received.json()["data"]["email"] == "ann@example.org"


async def test_a_click_a_conversion_and_a_campaign_finishing_are_published(client):
    sent = await sent_campaign(recipients=1)
    [delivery] = sent.deliveries
    key = await rotate_postback_secret(sent.workspace["id"])
    await _listening(sent.workspace, "message.clicked", "conversion.created", "campaign.finished")
    link = next(href for href in hrefs(sent.message(delivery)) if "/c/" in href)
    assert (await client.get(path_of(link))).status_code in (302, 303, 307)
    await drain_all(get_redis())
    posted = await postback(client, key=key, transaction_id="tx-9", sub1=sent.campaign["id"],
                            sub2=delivery["subscriber_id"], sub3=delivery["id"], payout="3.25")
    assert posted.status_code == 200, posted.text
    await fetch_positional("UPDATE campaigns SET status = 'sending', materialised_at = now() WHERE id = $1",
                           [sent.campaign["id"]])
    assert await finish_if_done(get_redis(), sent.workspace["id"], sent.campaign["id"])

    rows = await deliveries(sent.workspace)
    payloads = {row["kind"]: json.loads(row["payload"]) for row in rows}
    assert list(payloads) == ["message.clicked", "conversion.created", "campaign.finished"]
    assert payloads["message.clicked"]["email"] == delivery["email"]
    assert payloads["message.clicked"]["link"] == int(link.rsplit("/", 1)[1])
    assert (payloads["conversion.created"]["transaction_id"], payloads["conversion.created"]["revenue"]) == (
        "tx-9", "3.25")
    assert (payloads["campaign.finished"]["id"], payloads["campaign.finished"]["name"]) == (
        sent.campaign["id"], "Spring")
    assert "T" in payloads["campaign.finished"]["finished_at"]
