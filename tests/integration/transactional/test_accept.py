"""Accepting messages: answered 202 at once, checked field by field, refused per recipient with stable codes."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest

from app.db.campaigns import Campaign, Delivery
from app.db.transactional import TransactionalContent, TransactionalMessage
from app.services import campaigns, suppression
from app.services.suppression import Entry
from tests.api_client import api_key, bearer
from tests.factories import make_list, make_subscriber, make_workspace
from tests.integration.transactional.helpers import SENDER, raw_message, sender


async def test_a_message_is_accepted_with_its_id_and_stored_as_a_delivery_of_the_stream(client, queue) -> None:
    caller = await sender()
    answer = await client.post("/api/v1/messages", headers=caller.headers, json=raw_message(
        "Ann@Example.com", data={"order": "A-1"}, tags=["receipt"], metadata={"shop": 7}))
    assert answer.status_code == 202, answer.text
    body = answer.json()
    assert body["status"] == "queued"
    [delivery] = await Delivery.select().where(Delivery.id == body["id"])
    assert (delivery["email"], delivery["status"], delivery["transactional"]) == ("ann@example.com", "queued", True)
    [stream] = await Campaign.select().where(Campaign.id == delivery["campaign_id"])
    assert (stream["kind"], stream["status"], stream["workspace_id"]) == ("transactional", "stream",
                                                                          caller.workspace["id"])
    [message] = await TransactionalMessage.select().where(TransactionalMessage.id == body["id"]).output(
        load_json=True)
    assert message["data"] == {"order": "A-1"} and message["metadata"] == {"shop": 7}
    assert message["tags"] == ["receipt"] and not message["sandbox"]
    assert queue.ranges == [(caller.workspace["id"], stream["id"], body["id"], body["id"], 0.0)]
    read = await client.get(f"/api/v1/messages/{body['id']}", headers=caller.headers)
    assert read.status_code == 200
    assert (read.json()["status"], read.json()["subject"], read.json()["from_email"]) == (
        "queued", "Your order {{ order }}", SENDER)


async def test_the_stream_campaign_is_hidden_from_campaign_pages_and_the_reaper(client, queue, redis) -> None:
    caller = await sender()
    answer = await client.post("/api/v1/messages", headers=caller.headers, json=raw_message("ann@example.com"))
    [delivery] = await Delivery.select().where(Delivery.id == answer.json()["id"])
    assert await campaigns.campaigns_page(caller.workspace["id"]) == []
    with pytest.raises(LookupError):
        await campaigns.get_campaign(caller.workspace["id"], delivery["campaign_id"])
    reaped = await campaigns.reap(redis, queue)
    assert reaped.finished == [] and reaped.requeued_campaigns == []
    [stream] = await Campaign.select(Campaign.status).where(Campaign.id == delivery["campaign_id"])
    assert stream["status"] == "stream"


async def test_one_address_may_get_many_messages_of_the_stream(client, queue) -> None:
    caller = await sender()
    for _ in range(2):
        answer = await client.post("/api/v1/messages", headers=caller.headers, json=raw_message("bo@example.com"))
        assert answer.status_code == 202
    assert await Delivery.count().where(Delivery.email == "bo@example.com") == 2


async def test_a_suppressed_blacklisted_or_bounced_recipient_is_refused_with_its_code(client, queue) -> None:
    caller = await sender()
    workspace_id = caller.workspace["id"]
    await suppression.add_entries(workspace_id, (await suppression.blacklist(workspace_id))["id"],
                                  [Entry("email", "black@example.com")])
    await make_subscriber(await make_list(caller.workspace), "gone@example.com", status="bounced")
    for address in ("black@example.com", "GONE@example.com"):
        answer = await client.post("/api/v1/messages", headers=caller.headers, json=raw_message(address))
        assert answer.status_code == 422, answer.text
        assert answer.json()["error"]["code"] == "recipient_suppressed"
        assert answer.json()["error"]["fields"]["to"].startswith(f"Not sent to {address.lower()}")
    assert await Delivery.count() == 0 and await TransactionalContent.count() == 0
    assert queue.ranges == []


async def test_an_unsubscribe_from_a_marketing_list_does_not_stop_a_receipt(client, queue) -> None:
    caller = await sender()
    await make_subscriber(await make_list(caller.workspace), "left@example.com", status="unsubscribed")
    answer = await client.post("/api/v1/messages", headers=caller.headers, json=raw_message("left@example.com"))
    assert answer.status_code == 202, answer.text
    assert await Delivery.count().where(Delivery.email == "left@example.com") == 1


async def test_bad_input_is_refused_field_by_field_and_nothing_is_stored(client, queue) -> None:
    caller = await sender()
    cases = [
        ({"to": "not an address"}, "to"),
        ({"from": "me@unverified.example.org"}, "from"),
        ({"subject": ""}, "subject"),
        ({"html": "", "text": None}, "html"),
        ({"html": "<p>{{ broken </p>"}, "html"),
        ({"headers": {"Bcc": "spy@example.com"}}, "headers"),
        ({"headers": {"Disposition-Notification-To": "me@example.com"}}, "headers"),
        ({"attachments": [{"filename": "a.pdf", "content": "not base64!"}]}, "attachments[0].content"),
        ({"scheduled_at": (datetime.now(UTC) + timedelta(days=45)).isoformat()}, "scheduled_at"),
        ({"tags": [" "] + [f"t{i}" for i in range(10)]}, "tags"),
    ]
    for change, field in cases:
        answer = await client.post("/api/v1/messages", headers=caller.headers,
                                   json={**raw_message("ann@example.com"), **change})
        assert answer.status_code in (400, 422), (change, answer.text)
        if answer.status_code == 422:
            assert field in answer.json()["error"]["fields"], (change, answer.json())
    assert await Delivery.count() == 0 and await TransactionalContent.count() == 0
    unverified = await client.post("/api/v1/messages", headers=caller.headers,
                                   json={**raw_message("ann@example.com"), "from": "me@unverified.example.org"})
    # The domains that would do are named, as a campaign's sender check names them.
    assert "Send from one of your verified sending domains: mail.example.com." in (
        unverified.json()["error"]["fields"]["from"])


async def test_attachments_over_the_cap_are_refused_with_their_code(client, queue) -> None:
    caller = await sender()
    big = base64.b64encode(b"x" * (10 * 1024 * 1024 + 1)).decode()
    answer = await client.post("/api/v1/messages", headers=caller.headers, json=raw_message(
        "ann@example.com", attachments=[{"filename": "big.bin", "content": big}]))
    assert answer.status_code == 422
    assert answer.json()["error"]["code"] == "attachments_too_large"
    assert await Delivery.count() == 0


async def test_a_template_of_another_workspace_is_not_found(client, queue) -> None:
    from app.services.templates import create_template

    caller = await sender()
    other = await make_workspace()
    template = await create_template(other["id"], {"name": "Theirs", "subject": "Hi", "html": "<p>Hi</p>"}, None)
    answer = await client.post("/api/v1/messages", headers=caller.headers,
                               json={"to": "ann@example.com", "template_id": template["id"]})
    assert answer.status_code == 404
    assert await Delivery.count() == 0


async def test_a_template_is_sent_with_the_default_sender_when_no_from_is_given(client, queue) -> None:
    from app.services.templates import create_template, default_from_address

    caller = await sender()
    template = await create_template(caller.workspace["id"], {
        "name": "Reset", "subject": "Reset your password", "html": "<p>Code {{ code }}</p>"}, None)
    answer = await client.post("/api/v1/messages", headers=caller.headers, json={
        "to": "ann@example.com", "template_id": template["id"], "data": {"code": "1234"}})
    assert answer.status_code == 202, answer.text
    read = (await client.get(f"/api/v1/messages/{answer.json()['id']}", headers=caller.headers)).json()
    assert read["subject"] == "Reset your password" and read["template_id"] == template["id"]
    assert read["from_email"] == await default_from_address(caller.workspace["id"])


async def test_keys_without_the_scope_are_refused_and_messages_of_others_are_not_found(client, queue) -> None:
    caller = await sender()
    reader = bearer(await api_key(caller.workspace, scopes=("messages:read",)))
    refused = await client.post("/api/v1/messages", headers=reader, json=raw_message("ann@example.com"))
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "insufficient_scope"
    sent = await client.post("/api/v1/messages", headers=caller.headers, json=raw_message("ann@example.com"))
    stranger = await sender()
    for path in (f"/api/v1/messages/{sent.json()['id']}", f"/api/v1/messages/{sent.json()['id']}/events"):
        assert (await client.get(path, headers=stranger.headers)).status_code == 404
    assert (await client.delete(f"/api/v1/messages/{sent.json()['id']}", headers=stranger.headers)).status_code == 404
    assert (await client.get(f"/api/v1/messages/{sent.json()['id']}", headers=caller.headers)).status_code == 200


async def test_a_batch_of_ten_thousand_is_accepted_with_an_answer_per_recipient_in_order(client, queue) -> None:
    caller = await sender()
    workspace_id = caller.workspace["id"]
    await suppression.add_entries(workspace_id, (await suppression.blacklist(workspace_id))["id"],
                                  [Entry("domain", "blocked.example.com")])
    recipients = [{"to": f"person{i}@example.com", "data": {"order": f"B-{i}"}} for i in range(10_000)]
    recipients[10] = {"to": "someone@blocked.example.com"}
    recipients[20] = {"to": "nobody"}
    answer = await client.post("/api/v1/messages/batch", headers=caller.headers, json={
        "from": SENDER, "subject": "Order {{ order }}", "html": "<p>{{ order }}</p>", "tags": ["bulk"],
        "recipients": recipients})
    assert answer.status_code == 202, answer.text[:500]
    body = answer.json()
    assert (body["accepted"], body["refused"]) == (9_998, 2)
    results = body["results"]
    assert [result["email"] for result in results[:3]] == ["person0@example.com", "person1@example.com",
                                                          "person2@example.com"]
    assert results[10] == {"email": "someone@blocked.example.com", "error": {
        "code": "recipient_suppressed", "message": results[10]["error"]["message"]}}
    assert results[20]["error"]["code"] == "invalid_recipient" and "id" not in results[20]
    ids = [result["id"] for result in results if "id" in result]
    assert len(set(ids)) == 9_998
    stored = {row["id"]: row for row in await TransactionalMessage.select(
        TransactionalMessage.id, TransactionalMessage.email, TransactionalMessage.data,
        TransactionalMessage.batch_id).where(TransactionalMessage.id.is_in(ids[:5])).output(load_json=True)}
    assert stored[ids[3]]["email"] == "person3@example.com" and stored[ids[3]]["data"] == {"order": "B-3"}
    assert str(stored[ids[0]]["batch_id"]) == body["batch_id"]
    assert await TransactionalContent.count() == 1
    covered = {delivery_id for _, _, first, last, _ in queue.ranges for delivery_id in ids
               if first <= delivery_id <= last}
    assert covered == set(ids)


async def test_a_batch_over_ten_thousand_is_refused(client, queue) -> None:
    caller = await sender()
    answer = await client.post("/api/v1/messages/batch", headers=caller.headers, json={
        "from": SENDER, "subject": "Hi", "html": "<p>Hi</p>",
        "recipients": [{"to": f"p{i}@example.com"} for i in range(10_001)]})
    assert answer.status_code in (400, 422)
    assert await Delivery.count() == 0


async def test_the_schema_describes_the_message_endpoints_their_body_and_their_errors(client) -> None:
    schema = (await client.get("/api/v1/docs/openapi.json")).json()
    send = schema["paths"]["/api/v1/messages"]["post"]
    assert {"202", "401", "403", "404", "409", "422", "429"} <= set(send["responses"])
    body = send["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    assert {"to", "from", "template_id", "data", "attachments", "scheduled_at"} <= set(
        schema["components"]["schemas"][body]["properties"])
    assert "409" in schema["paths"]["/api/v1/messages/{message_id}"]["delete"]["responses"]
    assert "messages:read" in schema["paths"]["/api/v1/messages/{message_id}/events"]["get"]["description"]
