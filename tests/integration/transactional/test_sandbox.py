"""Sandbox keys: messages are validated, stored and evented as if sent, and nothing reaches an SMTP server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app.db.audience import Subscriber
from app.db.campaigns import Delivery
from app.services import suppression
from app.services.suppression import Entry
from tests.api_client import api_key, bearer
from tests.factories import make_list, make_subscriber
from tests.integration.campaigns.helpers import smtp_server
from tests.integration.campaigns.recorder import RecordingServer
from tests.integration.transactional.helpers import raw_message, sender


async def _status(client, headers, message_id: int) -> str:
    return (await client.get(f"/api/v1/messages/{message_id}", headers=headers)).json()["status"]


async def _kinds(client, headers, message_id: int) -> list[str]:
    return [event["kind"] for event in
            (await client.get(f"/api/v1/messages/{message_id}/events", headers=headers)).json()]


async def test_sandbox_outcomes_follow_the_address_and_no_smtp_server_hears_of_them(
        client, queue, redis, adapters) -> None:
    caller = await sender(sandbox=True)
    addresses = ["delivered@simulator.ignite.test", "bounce@simulator.ignite.test",
                 "complaint@simulator.ignite.test", "defer@simulator.ignite.test", "someone@example.com"]
    with RecordingServer() as smtp:
        await smtp_server(caller.workspace["id"], smtp.port)
        ids = {}
        for address in addresses:
            answer = await client.post("/api/v1/messages", headers=caller.headers, json=raw_message(address))
            assert answer.status_code == 202, answer.text
            ids[address] = answer.json()["id"]
        assert await queue.drain(redis, adapters) == 5
        # The deferred one was put back with a short delay; its second turn (its time moved, not waited for)
        # sends it.
        assert [delay > 0 for *_, delay in queue.ranges] == [True]
        await Delivery.update({Delivery.next_attempt_at: datetime.now(UTC) - timedelta(seconds=1)}).where(
            Delivery.status == "deferred")
        assert await queue.drain(redis, adapters, include_delayed=True) == 1
        assert smtp.handler.received == 0
    statuses = {address: await _status(client, caller.headers, ids[address]) for address in addresses}
    assert statuses == {"delivered@simulator.ignite.test": "delivered", "bounce@simulator.ignite.test": "bounced",
                        "complaint@simulator.ignite.test": "complained", "defer@simulator.ignite.test": "delivered",
                        "someone@example.com": "delivered"}
    assert await _kinds(client, caller.headers, ids["defer@simulator.ignite.test"]) == [
        "queued", "deferred", "sent", "delivered"]
    assert await _kinds(client, caller.headers, ids["bounce@simulator.ignite.test"]) == ["queued", "sent", "bounced"]
    read = (await client.get(f"/api/v1/messages/{ids['someone@example.com']}", headers=caller.headers)).json()
    assert read["sandbox"] is True and read["server"] is None


async def test_simulated_addresses_stay_usable_and_real_suppression_still_holds_in_the_sandbox(
        client, queue, redis, adapters) -> None:
    caller = await sender(sandbox=True)
    first = await client.post("/api/v1/messages", headers=caller.headers,
                              json=raw_message("bounce@simulator.ignite.test"))
    await queue.drain(redis, adapters)
    assert await _status(client, caller.headers, first.json()["id"]) == "bounced"
    # The simulated bounce blacklisted only the simulator's address, which the sandbox keeps accepting.
    again = await client.post("/api/v1/messages", headers=caller.headers,
                              json=raw_message("bounce@simulator.ignite.test"))
    assert again.status_code == 202, again.text
    workspace_id = caller.workspace["id"]
    await suppression.add_entries(workspace_id, (await suppression.blacklist(workspace_id))["id"],
                                  [Entry("email", "real@example.com")])
    refused = await client.post("/api/v1/messages", headers=caller.headers, json=raw_message("real@example.com"))
    assert refused.json()["error"]["code"] == "recipient_suppressed"


async def test_a_sandbox_bounce_leaves_real_subscribers_alone(client, queue, redis, adapters) -> None:
    caller = await sender(sandbox=True)
    person = await make_subscriber(await make_list(caller.workspace), "ann@example.com")
    await client.post("/api/v1/messages", headers=caller.headers, json=raw_message("ann@example.com"))
    await client.post("/api/v1/messages", headers=caller.headers, json=raw_message("bounce@simulator.ignite.test"))
    await queue.drain(redis, adapters)
    [row] = await Subscriber.select(Subscriber.status).where(Subscriber.id == person["id"])
    assert row["status"] == "confirmed"


async def test_each_status_change_is_published_to_the_endpoints_that_hear_message_status(
        client, queue, redis, adapters) -> None:
    from app.db.webhooks import WebhookDelivery
    from app.services.webhooks.endpoints import create_endpoint

    caller = await sender(sandbox=True)
    await create_endpoint(caller.workspace["id"], {"url": "https://hooks.example.com/ignite",
                                                   "events": ["message.status"]})
    sent = await client.post("/api/v1/messages", headers=caller.headers,
                             json=raw_message("defer@simulator.ignite.test", metadata={"order": 12}))
    await queue.drain(redis, adapters)
    await Delivery.update({Delivery.next_attempt_at: datetime.now(UTC) - timedelta(seconds=1)}).where(
        Delivery.status == "deferred")
    await queue.drain(redis, adapters, include_delayed=True)
    rows = await WebhookDelivery.select(WebhookDelivery.kind, WebhookDelivery.payload).order_by(
        WebhookDelivery.id).output(load_json=True)
    assert [row["kind"] for row in rows] == ["message.status"] * 3
    assert [(row["payload"]["id"], row["payload"]["status"]) for row in rows] == [
        (sent.json()["id"], "deferred"), (sent.json()["id"], "sent"), (sent.json()["id"], "delivered")]
    assert all(row["payload"]["metadata"] == {"order": 12} and row["payload"]["sandbox"] for row in rows)


async def test_a_test_key_and_a_live_key_each_see_only_their_own_messages(client, queue) -> None:
    live = await sender()
    test = bearer(await api_key(live.workspace, scopes=("messages:send", "messages:read"), sandbox=True))
    real = (await client.post("/api/v1/messages", headers=live.headers, json=raw_message("ann@example.com"))).json()
    tried = (await client.post("/api/v1/messages", headers=test, json=raw_message("bob@example.com"))).json()

    for headers, own, other in ((live.headers, real["id"], tried["id"]), (test, tried["id"], real["id"])):
        assert (await client.get(f"/api/v1/messages/{own}", headers=headers)).status_code == 200
        for path in (f"/api/v1/messages/{other}", f"/api/v1/messages/{other}/events"):
            assert (await client.get(path, headers=headers)).status_code == 404, path
        assert (await client.delete(f"/api/v1/messages/{other}", headers=headers)).status_code == 404
        listed = (await client.get("/api/v1/messages", headers=headers)).json()["data"]
        assert [row["id"] for row in listed] == [own]
