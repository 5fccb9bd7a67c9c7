"""The conversion postback: attributed to the delivery's campaign, subscriber and server, counted once per
transaction (replays, concurrent ones too), refused with a stable code and nothing stored for bad input."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal

import pytest

from app.db.campaigns import Delivery
from app.db.tracking import TrackingSettings
from app.services.delivery_servers import create_server
from app.services.public_limits import buckets_for
from app.services.throttling import acquire
from app.services.tracking.conversions import POSTBACK, campaign_conversions, rotate_postback_secret
from app.services.tracking.figures import campaign_figures
from app.services.tracking.offers import save_settings
from tests.factories import make_workspace
from tests.integration.tracking.helpers import sent_campaign
from tests.integration.tracking.offer_helpers import conversions, error_code, postback


async def _conversion_events(campaign_id: int) -> list[dict]:
    return await Delivery.raw("SELECT kind, delivery_id, subscriber_id, meta FROM events "
                              "WHERE campaign_id = {} AND kind = 'conversion' ORDER BY id", campaign_id)


async def _setup(recipients: int = 1):
    sent = await sent_campaign(recipients=recipients)
    key = await rotate_postback_secret(sent.workspace["id"])
    return sent, key


async def test_a_postback_is_attributed_to_delivery_campaign_subscriber_server_and_offer(client, redis) -> None:
    sent, key = await _setup()
    delivery = sent.deliveries[0]
    server = await create_server(sent.workspace["id"], "capture", {"name": "Capture"})
    await Delivery.update({Delivery.server_id: server["id"]}).where(Delivery.id == delivery["id"])

    response = await postback(client, key=key, transaction_id="tx-1", sub1=sent.campaign["id"],
                              sub2=delivery["subscriber_id"], sub3=delivery["id"], payout="12.50",
                              currency="usd", offer_id="77", event="Sale", sub5="placement-a")

    assert response.status_code == 200, response.text
    assert response.json()["status"] == "recorded"
    [stored] = await conversions()
    assert response.json()["conversion_id"] == stored["id"]
    assert (stored["delivery_id"], stored["campaign_id"], stored["subscriber_id"], stored["server_id"]) == (
        delivery["id"], sent.campaign["id"], delivery["subscriber_id"], server["id"])
    assert (stored["offer_id"], stored["event_name"], stored["revenue"], stored["currency"]) == (
        "77", "Sale", Decimal("12.5"), "USD")
    assert json.loads(stored["sub_ids"])["sub5"] == "placement-a"
    [event] = await _conversion_events(sent.campaign["id"])
    assert (event["delivery_id"], event["subscriber_id"]) == (delivery["id"], delivery["subscriber_id"])
    assert '"transaction_id": "tx-1"' in event["meta"]
    figures = await campaign_figures(redis, sent.workspace["id"], sent.campaign["id"])
    assert (figures["conversions"], figures["revenue"]) == (1, Decimal("12.5"))
    [listed] = await campaign_conversions(sent.workspace["id"], sent.campaign["id"])
    assert (listed["email"], listed["server_name"], listed["transaction_id"]) == (delivery["email"], "Capture", "tx-1")
    assert listed["sub_ids"]["sub5"] == "placement-a"


async def test_a_replayed_postback_is_counted_once(client, redis) -> None:
    sent, key = await _setup()
    delivery = sent.deliveries[0]
    params = {"key": key, "transaction_id": "tx-9", "sub3": delivery["id"], "payout": "3"}

    first = await postback(client, **params)
    again = await postback(client, **params)

    assert first.json()["status"] == "recorded"
    assert again.status_code == 200
    assert again.json() == {"status": "duplicate", "conversion_id": first.json()["conversion_id"]}
    assert len(await conversions()) == 1
    assert len(await _conversion_events(sent.campaign["id"])) == 1
    figures = await campaign_figures(redis, sent.workspace["id"], sent.campaign["id"])
    assert (figures["conversions"], figures["revenue"]) == (1, Decimal(3))


async def test_concurrent_replays_are_counted_once(client, redis) -> None:
    sent, key = await _setup()
    params = {"key": key, "transaction_id": "tx-race", "sub3": sent.deliveries[0]["id"], "payout": "5"}

    answers = await asyncio.gather(*(postback(client, **params) for _ in range(8)))

    assert sorted(a.json()["status"] for a in answers) == ["duplicate"] * 7 + ["recorded"]
    assert len({a.json()["conversion_id"] for a in answers}) == 1
    assert len(await conversions()) == 1
    assert len(await _conversion_events(sent.campaign["id"])) == 1
    figures = await campaign_figures(redis, sent.workspace["id"], sent.campaign["id"])
    await redis.flushdb()
    # The table the figures mirror says the same.
    assert await campaign_figures(redis, sent.workspace["id"], sent.campaign["id"]) == figures
    assert (figures["conversions"], figures["revenue"]) == (1, Decimal(5))


async def test_each_event_of_one_transaction_is_its_own_conversion(client, redis) -> None:
    sent, key = await _setup()
    delivery = sent.deliveries[0]
    for event, payout in (("", "1"), ("upsell", "4.25"), ("upsell", "4.25")):
        await postback(client, key=key, transaction_id="tx-2", sub3=delivery["id"], event=event, payout=payout)

    assert [(c["event_name"], c["revenue"]) for c in await conversions()] == [
        ("", Decimal(1)), ("upsell", Decimal("4.25"))]
    figures = await campaign_figures(redis, sent.workspace["id"], sent.campaign["id"])
    assert (figures["conversions"], figures["revenue"]) == (2, Decimal("5.25"))


async def test_post_with_a_form_or_json_body(client) -> None:
    sent, key = await _setup()
    delivery_id = sent.deliveries[0]["id"]

    form = await client.post(f"/postback?key={key}", data={"transaction_id": "tx-f", "sub3": str(delivery_id)})
    body = await client.post("/postback", json={"key": key, "transaction_id": "tx-j", "sub3": delivery_id,
                                                "payout": 2.5})
    broken = await client.post("/postback", content=b"{not json", headers={"content-type": "application/json"})

    assert (form.status_code, body.status_code) == (200, 200)
    assert [c["transaction_id"] for c in await conversions()] == ["tx-f", "tx-j"]
    assert (broken.status_code, error_code(broken)) == (400, "invalid_body")
    assert "set-cookie" not in form.headers


@pytest.mark.parametrize(("change", "status", "code"), [
    ({"key": ""}, 403, "invalid_key"),
    ({"key": "not-the-key"}, 403, "invalid_key"),
    ({"transaction_id": ""}, 422, "missing_transaction_id"),
    ({"transaction_id": "x" * 129}, 422, "invalid_transaction_id"),
    ({"transaction_id": "tx\n1"}, 422, "invalid_transaction_id"),
    ({"payout": "abc"}, 422, "invalid_payout"),
    ({"payout": "-1"}, 422, "invalid_payout"),
    ({"payout": "1.23456"}, 422, "invalid_payout"),
    ({"payout": "NaN"}, 422, "invalid_payout"),
    ({"payout": "1e12"}, 422, "invalid_payout"),
    ({"currency": "EUR"}, 422, "currency_mismatch"),
    ({"sub3": ""}, 422, "missing_delivery"),
    ({"sub3": "99999999"}, 404, "unknown_delivery"),
    ({"sub3": "12abc"}, 404, "unknown_delivery"),
    ({"sub3": "9" * 30}, 404, "unknown_delivery"),
    ({"sub1": "999999"}, 422, "sub_id_mismatch"),
    ({"sub2": "999999"}, 422, "sub_id_mismatch"),
    ({"offer_id": "o" * 65}, 422, "invalid_offer_id"),
])
async def test_bad_postbacks_are_refused_with_a_stable_code_and_store_nothing(client, redis, change, status,
                                                                              code) -> None:
    sent, key = await _setup()
    delivery = sent.deliveries[0]
    params = {"key": key, "transaction_id": "tx-bad", "sub1": sent.campaign["id"],
              "sub2": delivery["subscriber_id"], "sub3": delivery["id"], "payout": "1", **change}

    response = await postback(client, **params)

    assert (response.status_code, error_code(response)) == (status, code)
    assert response.json()["error"]["message"]
    assert await conversions() == []
    assert await _conversion_events(sent.campaign["id"]) == []
    assert (await campaign_figures(redis, sent.workspace["id"], sent.campaign["id"]))["conversions"] == 0


async def test_another_workspaces_delivery_is_unknown(client) -> None:
    sent, _ = await _setup()
    other = await make_workspace()
    other_key = await rotate_postback_secret(other["id"])

    response = await postback(client, key=other_key, transaction_id="tx-x", sub3=sent.deliveries[0]["id"])

    assert (response.status_code, error_code(response)) == (404, "unknown_delivery")
    assert await conversions() == []


async def test_a_replaced_key_stops_working_at_once(client) -> None:
    sent, old_key = await _setup()
    new_key = await rotate_postback_secret(sent.workspace["id"])
    delivery_id = sent.deliveries[0]["id"]

    old = await postback(client, key=old_key, transaction_id="tx-o", sub3=delivery_id)
    new = await postback(client, key=new_key, transaction_id="tx-n", sub3=delivery_id)

    assert (old.status_code, error_code(old)) == (403, "invalid_key")
    assert new.status_code == 200
    [row] = await TrackingSettings.select()
    assert new_key not in str(row) and row["postback_secret_hint"] == new_key[-4:]


async def test_sub_ids_are_read_under_the_workspaces_own_names(client) -> None:
    sent, key = await _setup()
    delivery = sent.deliveries[0]
    await save_settings(sent.workspace["id"], {"campaign_param": "aff_sub", "subscriber_param": "",
                                               "delivery_param": "aff_sub3", "currency": "EUR", "offer_domains": ""})

    default_names = await postback(client, key=key, transaction_id="tx-d", sub3=delivery["id"], currency="EUR")
    own_names = await postback(client, key=key, transaction_id="tx-a", aff_sub3=delivery["id"],
                               aff_sub=sent.campaign["id"], sub2="anything", currency="eur")

    assert (default_names.status_code, error_code(default_names)) == (422, "missing_delivery")
    assert own_names.status_code == 200, own_names.text
    [stored] = await conversions()
    assert (stored["delivery_id"], stored["currency"]) == (delivery["id"], "EUR")


async def test_postbacks_are_rate_limited_per_address(client, redis) -> None:
    sent, key = await _setup()
    # A network that already posted its minute's worth from this address.
    await acquire(redis, buckets_for(POSTBACK, "127.0.0.1"), tokens=POSTBACK.per_ip.limit)

    response = await postback(client, key=key, transaction_id="tx-r", sub3=sent.deliveries[0]["id"])

    assert (response.status_code, error_code(response)) == (429, "rate_limited")
    assert int(response.headers["retry-after"]) >= 1
    assert await conversions() == []


async def test_campaign_conversions_come_newest_first_a_page_at_a_time(client) -> None:
    sent, key = await _setup()
    for n in range(5):
        await postback(client, key=key, transaction_id=f"tx-{n}", sub3=sent.deliveries[0]["id"])

    first = await campaign_conversions(sent.workspace["id"], sent.campaign["id"], limit=3)
    rest = await campaign_conversions(sent.workspace["id"], sent.campaign["id"], before=first[-1]["id"], limit=3)

    assert [c["transaction_id"] for c in first + rest] == ["tx-4", "tx-3", "tx-2", "tx-1", "tx-0"]
    other = await make_workspace()
    with pytest.raises(LookupError):
        await campaign_conversions(other["id"], sent.campaign["id"])


async def test_a_postback_waits_for_an_aggregator_batch_being_written_instead_of_deadlocking_with_it(client) -> None:
    """Both move the campaign's figures and its rollup rows, locked in other orders: a postback that interleaved
    with a batch deadlocked (one of them failed). It now waits for the batch's commit, then records."""
    import os

    import asyncpg

    sent, key = await _setup()
    delivery = sent.deliveries[0]
    batch = await asyncpg.connect(os.environ["DATABASE_URL"])
    try:
        writing = batch.transaction()
        await writing.start()
        await batch.execute("SELECT pg_advisory_xact_lock(hashtext('ignite:tracking:aggregate'))")
        posted = asyncio.create_task(postback(client, key=key, transaction_id="tx-waits", sub3=delivery["id"],
                                              payout="3"))
        while not await batch.fetchval("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"):
            assert not posted.done(), (await posted).text
            await asyncio.sleep(0.01)
        assert await conversions() == []
        await writing.commit()
        response = await posted
    finally:
        await batch.close()
    assert response.json()["status"] == "recorded"
    assert [row["revenue"] for row in await conversions()] == [Decimal(3)]
