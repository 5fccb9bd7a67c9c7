"""Subscribers through the API: upsert one or 10,000, read, filter, update, unsubscribe, delete, export, erase."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from app.db.audience import Subscriber
from app.db.webhooks import WebhookDelivery
from app.redis_client import get_redis
from app.services import custom_fields, opt_outs, subscribers, suppression
from app.services.suppression.entries import Entry
from app.services.webhooks import endpoints
from tests.api_client import api_key, bearer
from tests.factories import make_list, make_subscriber, make_subscribers, make_workspace

READ_WRITE = ("subscribers:read", "subscribers:write")


async def _shop(scopes=READ_WRITE) -> tuple[dict, dict, dict[str, str]]:
    """A workspace with a list that has a number field and a required text field, and a key of it."""
    workspace = await make_workspace()
    mailing_list = await make_list(workspace, "Shop")
    await custom_fields.add_field(workspace["id"], mailing_list["id"], {"label": "Orders", "kind": "number"})
    await custom_fields.add_field(workspace["id"], mailing_list["id"], {"label": "City", "required": "on"})
    return workspace, mailing_list, bearer(await api_key(workspace, scopes=scopes))


async def test_one_subscriber_is_created_then_merged_into(client):
    workspace, mailing_list, headers = await _shop()
    body = {"list_id": mailing_list["id"], "email": "Ann@Example.com", "fields": {"orders": 3, "city": "Oslo"},
            "tags": ["vip"]}
    created = await client.post("/api/v1/subscribers", headers=headers, json=body)
    assert created.status_code == 201, created.text
    assert created.json()["email"] == "ann@example.com"
    assert created.json()["fields"] == {"orders": 3, "city": "Oslo"}
    assert created.json()["tags"] == ["vip"]
    again = await client.post("/api/v1/subscribers", headers=headers, json={
        "list_id": mailing_list["id"], "email": "ann@example.com", "fields": {"city": "Bergen"},
        "status": "unconfirmed"})
    assert again.status_code == 200, again.text
    assert again.json()["id"] == created.json()["id"]
    assert again.json()["fields"] == {"orders": 3, "city": "Bergen"}
    assert again.json()["status"] == "confirmed"  # an upsert never changes the status of someone already there
    history = await subscribers.status_history(workspace["id"], created.json()["id"])
    assert [(row["to_status"], row["source"]) for row in history] == [("confirmed", "api")]
    # Every answer about the subscriber carries its tags, not only the one that set them.
    listed = await client.get("/api/v1/subscribers", headers=headers, params={"list_id": mailing_list["id"]})
    found = await client.get("/api/v1/subscribers/by-email", headers=headers, params={"email": "ann@example.com"})
    gone = await client.post(f"/api/v1/subscribers/{created.json()['id']}/unsubscribe", headers=headers)
    assert [row["tags"] for row in listed.json()["data"]] == [["vip"]]
    assert [row["tags"] for row in found.json()] == [["vip"]]
    assert gone.json()["tags"] == ["vip"]


async def test_a_bad_subscriber_is_refused_and_nothing_is_stored(client):
    workspace, mailing_list, headers = await _shop()
    for fields, problem in [({"orders": "many", "city": "Oslo"}, "fields"), ({"orders": 1}, "fields"),
                            ({"city": "Oslo", "shoe_size": 44}, "fields")]:
        answer = await client.post("/api/v1/subscribers", headers=headers,
                                   json={"list_id": mailing_list["id"], "email": "bo@example.com", "fields": fields})
        assert answer.status_code == 422, answer.text
        assert problem in answer.json()["error"]["fields"]
    bad_address = await client.post("/api/v1/subscribers", headers=headers,
                                    json={"list_id": mailing_list["id"], "email": "bo@", "fields": {"city": "x"}})
    assert bad_address.status_code == 422 and "email" in bad_address.json()["error"]["fields"]
    assert await Subscriber.count().where(Subscriber.workspace_id == workspace["id"]) == 0


async def test_a_suppressed_address_is_refused_with_its_code(client):
    workspace, mailing_list, headers = await _shop()
    await suppression.add_entries(workspace["id"], (await suppression.blacklist(workspace["id"]))["id"],
                                  [Entry("domain", "spam.example")])
    answer = await client.post("/api/v1/subscribers", headers=headers, json={
        "list_id": mailing_list["id"], "email": "x@spam.example", "fields": {"city": "Oslo"}})
    assert answer.status_code == 422
    assert answer.json()["error"]["code"] == "address_suppressed"
    assert await Subscriber.count().where(Subscriber.workspace_id == workspace["id"]) == 0


async def test_ten_thousand_subscribers_are_upserted_in_one_call_with_a_result_per_row(client):
    workspace, mailing_list, headers = await _shop()
    existing = await make_subscriber(mailing_list, "old@example.com", {"city": "Rome", "orders": 1},
                                     status="unsubscribed")
    await make_subscriber(mailing_list, "same@example.com", {"city": "Lima"}, status="confirmed")
    await suppression.add_entries(workspace["id"], (await suppression.blacklist(workspace["id"]))["id"],
                                  [Entry("email", "blocked@example.com")])
    rows = [{"email": f"new{n}@example.com", "fields": {"city": "Oslo", "orders": n}} for n in range(9_994)]
    rows += [
        {"email": "OLD@example.com", "fields": {"orders": 7, "city": "Rome"}},
        {"email": "same@example.com", "fields": {"city": "Lima"}},
        {"email": "new1@example.com", "fields": {"city": "Again"}},
        {"email": "blocked@example.com", "fields": {"city": "Oslo"}},
        {"email": "broken@", "fields": {"city": "Oslo"}},
        {"email": "nocity@example.com", "fields": {"orders": 2}},
    ]
    answer = await client.post("/api/v1/subscribers/bulk", headers=headers,
                               json={"list_id": mailing_list["id"], "subscribers": rows})
    assert answer.status_code == 200, answer.text[:500]
    body = answer.json()
    assert (body["created"], body["updated"], body["unchanged"], body["refused"]) == (9_994, 1, 1, 4)
    results = body["results"]
    assert [r["index"] for r in results] == list(range(10_000))
    assert results[9_994] == {"index": 9_994, "email": "old@example.com", "id": existing["id"], "outcome": "updated",
                              "error": None}
    assert [r["error"]["code"] for r in results[9_996:]] == [
        "duplicate_in_request", "address_suppressed", "invalid", "invalid"]
    old = await subscribers.subscriber_of(workspace["id"], existing["id"])
    assert (old["fields"], old["status"]) == ({"city": "Rome", "orders": 7}, "unsubscribed")
    new1 = await Subscriber.select().where(Subscriber.list_id == mailing_list["id"],
                                           Subscriber.email == "new1@example.com").output(load_json=True).first()
    assert (new1["fields"], new1["source"]) == ({"city": "Oslo", "orders": 1}, "api")
    assert await Subscriber.count().where(Subscriber.list_id == mailing_list["id"]) == 9_996


async def test_more_than_ten_thousand_rows_are_refused_whole(client):
    workspace, mailing_list, headers = await _shop()
    rows = [{"email": f"n{n}@example.com", "fields": {"city": "x"}} for n in range(10_001)]
    answer = await client.post("/api/v1/subscribers/bulk", headers=headers,
                               json={"list_id": mailing_list["id"], "subscribers": rows})
    assert answer.status_code == 400 and "subscribers" in answer.text
    assert await Subscriber.count().where(Subscriber.workspace_id == workspace["id"]) == 0


async def test_another_workspaces_list_and_subscribers_are_not_found(client):
    workspace, _, headers = await _shop()
    theirs = await make_list(await make_workspace(), "Theirs")
    person = await make_subscriber(theirs, "them@example.com")
    for method, url, body in [
        ("POST", "/api/v1/subscribers", {"list_id": theirs["id"], "email": "me@example.com"}),
        ("POST", "/api/v1/subscribers/bulk", {"list_id": theirs["id"], "subscribers": [{"email": "me@example.com"}]}),
        ("GET", f"/api/v1/subscribers?list_id={theirs['id']}", None),
        ("GET", f"/api/v1/subscribers/{person['id']}", None),
        ("GET", "/api/v1/subscribers/by-email?email=them@example.com", None),
        ("PATCH", f"/api/v1/subscribers/{person['id']}", {"status": "unsubscribed"}),
        ("POST", f"/api/v1/subscribers/{person['id']}/unsubscribe", None),
        ("DELETE", f"/api/v1/subscribers/{person['id']}", None),
        ("POST", "/api/v1/privacy/export", {"email": "them@example.com"}),
        ("POST", "/api/v1/privacy/erase", {"email": "them@example.com"}),
    ]:
        answer = await client.request(method, url, headers=headers, json=body)
        assert answer.status_code == 404, (method, url, answer.text)
    stored = await subscribers.subscriber_of(theirs["workspace_id"], person["id"])
    assert stored["status"] == "confirmed"
    assert await Subscriber.count().where(Subscriber.workspace_id == workspace["id"]) == 0


async def test_subscribers_are_filtered_and_paged_by_id(client):
    workspace, mailing_list, headers = await _shop()
    other = await make_list(workspace, "Other")
    await make_subscribers(mailing_list, 5, prefix="ann")
    await make_subscribers(mailing_list, 3, prefix="bob")
    await make_subscribers(other, 2, prefix="ann")
    gone = await make_subscriber(mailing_list, "ann.gone@example.com", status="unsubscribed")

    async def ids(**params) -> list[int]:
        found, cursor = [], None
        while True:
            page = (await client.get("/api/v1/subscribers", headers=headers,
                                     params={**params, "limit": 2, **({"cursor": cursor} if cursor else {})})).json()
            found += [row["id"] for row in page["data"]]
            if not (cursor := page["next_cursor"]):
                return found

    assert len(await ids()) == 11
    assert len(await ids(list_id=mailing_list["id"], email_prefix="ANN")) == 6
    assert await ids(list_id=mailing_list["id"], status="unsubscribed") == [gone["id"]]
    later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    assert await ids(updated_since=later) == []
    assert (await client.get("/api/v1/subscribers", headers=headers, params={"status": "happy"})).status_code == 400


async def test_an_address_is_found_on_every_list(client):
    workspace, mailing_list, headers = await _shop()
    other = await make_list(workspace, "Other")
    await make_subscriber(mailing_list, "eve@example.com")
    await make_subscriber(other, "eve@example.com", status="unsubscribed")
    answer = await client.get("/api/v1/subscribers/by-email", headers=headers, params={"email": "Eve@Example.com"})
    assert answer.status_code == 200
    assert sorted(row["status"] for row in answer.json()) == ["confirmed", "unsubscribed"]
    missing = await client.get("/api/v1/subscribers/by-email", headers=headers, params={"email": "no@example.com"})
    assert missing.status_code == 404


async def test_a_subscriber_is_updated_tagged_and_its_bad_values_refused(client):
    workspace, mailing_list, headers = await _shop()
    person = await make_subscriber(mailing_list, "kim@example.com", {"city": "Oslo", "orders": 2})
    url = f"/api/v1/subscribers/{person['id']}"
    changed = await client.patch(url, headers=headers, json={"fields": {"orders": 5}, "add_tags": ["vip", "new"]})
    assert changed.status_code == 200, changed.text
    assert changed.json()["fields"] == {"city": "Oslo", "orders": 5}
    assert changed.json()["tags"] == ["new", "vip"]
    untagged = await client.patch(url, headers=headers, json={"remove_tags": ["new", "never-had"],
                                                             "email": "KIM2@example.com"})
    assert (untagged.json()["tags"], untagged.json()["email"]) == (["vip"], "kim2@example.com")
    refused = await client.patch(url, headers=headers, json={"fields": {"orders": "lots"}, "status": "confirmed"})
    assert refused.status_code == 422
    assert "fields.orders" in refused.json()["error"]["fields"]
    bad_status = await client.patch(url, headers=headers, json={"status": "happy"})
    assert bad_status.status_code == 422
    stored = await subscribers.subscriber_of(workspace["id"], person["id"])
    assert (stored["fields"], stored["status"]) == ({"city": "Oslo", "orders": 5}, "confirmed")


async def test_unsubscribing_is_announced_to_sending_processes(client):
    workspace, mailing_list, headers = await _shop()
    person = await make_subscriber(mailing_list, "lee@example.com")
    pubsub = get_redis().pubsub(ignore_subscribe_messages=True)
    await pubsub.subscribe(opt_outs.CHANNEL)
    try:
        answer = await client.post(f"/api/v1/subscribers/{person['id']}/unsubscribe", headers=headers)
        assert answer.status_code == 200, answer.text
        assert answer.json()["status"] == "unsubscribed"
        message = None
        for _ in range(50):  # the first reads are the subscription's own confirmation, skipped as None
            if (message := await pubsub.get_message(timeout=0.1)) is not None:
                break
        assert message is not None
        assert json.loads(message["data"]) == {"workspace": workspace["id"],
                                               "rows": [[mailing_list["id"], "lee@example.com"]]}
    finally:
        await pubsub.aclose()
    history = await subscribers.status_history(workspace["id"], person["id"])
    assert (history[0]["to_status"], history[0]["source"]) == ("unsubscribed", "api")


async def test_a_subscriber_is_deleted(client):
    workspace, mailing_list, headers = await _shop()
    person = await make_subscriber(mailing_list, "del@example.com")
    assert (await client.delete(f"/api/v1/subscribers/{person['id']}", headers=headers)).status_code == 204
    assert await subscribers.get_subscriber(workspace["id"], person["id"]) is None
    assert (await client.get(f"/api/v1/subscribers/{person['id']}", headers=headers)).status_code == 404


async def test_a_person_is_exported_then_erased(client):
    workspace, mailing_list, headers = await _shop()
    other = await make_list(workspace, "Other")
    first = await make_subscriber(mailing_list, "gdpr@example.com", {"city": "Oslo"})
    await make_subscriber(other, "gdpr@example.com")
    exported = await client.post("/api/v1/privacy/export", headers=headers, json={"email": "GDPR@example.com"})
    assert exported.status_code == 200, exported.text
    data = exported.json()
    assert sorted(row["list"] for row in data["subscriptions"]) == ["Other", "Shop"]
    assert {"fields": {"city": "Oslo"}}.items() <= next(r for r in data["subscriptions"] if r["list"] == "Shop").items()
    assert set(data) >= {"status_history", "tags", "events", "leads"}
    erased = await client.post("/api/v1/privacy/erase", headers=headers, json={"email": "gdpr@example.com"})
    assert erased.json() == {"erased": 2}
    assert await subscribers.get_subscriber(workspace["id"], first["id"]) is None
    again = await client.post("/api/v1/privacy/export", headers=headers, json={"email": "gdpr@example.com"})
    assert again.status_code == 404


async def test_each_endpoint_needs_its_scope(client):
    workspace, mailing_list, headers = await _shop(scopes=("subscribers:read",))
    person = await make_subscriber(mailing_list, "ro@example.com")
    assert (await client.get(f"/api/v1/subscribers/{person['id']}", headers=headers)).status_code == 200
    for method, url, body in [
        ("POST", "/api/v1/subscribers", {"list_id": mailing_list["id"], "email": "w@example.com"}),
        ("PATCH", f"/api/v1/subscribers/{person['id']}", {"status": "unsubscribed"}),
        ("DELETE", f"/api/v1/subscribers/{person['id']}", None),
        ("POST", "/api/v1/privacy/erase", {"email": "ro@example.com"}),
    ]:
        answer = await client.request(method, url, headers=headers, json=body)
        assert answer.status_code == 403, (method, url)
        assert answer.json()["error"]["code"] == "insufficient_scope"
    _, _, writer = await _shop(scopes=("subscribers:write",))
    assert (await client.get(f"/api/v1/subscribers/{person['id']}", headers=writer)).status_code == 403
    assert (await subscribers.subscriber_of(workspace["id"], person["id"]))["status"] == "confirmed"


async def test_subscribers_added_through_the_api_are_posted_to_webhook_endpoints(client):
    workspace, mailing_list, headers = await _shop()
    await endpoints.create_endpoint(workspace["id"], {"url": "https://hooks.example.com/in",
                                                      "events": ["subscriber.subscribed"]})
    await make_subscriber(mailing_list, "known@example.com", {"city": "Oslo"})
    rows = [{"email": "one@example.com", "fields": {"city": "Oslo"}},
            {"email": "known@example.com", "fields": {"city": "Rome"}}]
    answer = await client.post("/api/v1/subscribers/bulk", headers=headers,
                               json={"list_id": mailing_list["id"], "subscribers": rows})
    assert answer.json()["created"] == 1
    single = await client.post("/api/v1/subscribers", headers=headers,
                               json={"list_id": mailing_list["id"], "email": "two@example.com",
                                     "fields": {"city": "Oslo"}})
    assert single.status_code == 201
    posted = await WebhookDelivery.select(WebhookDelivery.kind, WebhookDelivery.payload).where(
        WebhookDelivery.workspace_id == workspace["id"]).order_by(WebhookDelivery.id).output(load_json=True)
    assert [(row["kind"], row["payload"]["email"], row["payload"]["source"]) for row in posted] == [
        ("subscriber.subscribed", "one@example.com", "api"), ("subscriber.subscribed", "two@example.com", "api")]
