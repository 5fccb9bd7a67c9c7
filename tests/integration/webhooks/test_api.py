"""Webhook endpoints through the API (scope `webhooks:manage`): create, read, change, ping, log, replay, delete."""

from __future__ import annotations

from app.redis_client import get_redis
from app.services import webhooks
from app.services.webhooks import endpoints
from app.services.webhooks.delivery import deliver_due
from tests.api_client import api_key, bearer
from tests.factories import make_workspace
from tests.integration.webhooks.receiver import running_receiver

BASE = "/api/v1/webhooks"


async def _client_of(workspace: dict, scopes: tuple[str, ...] = ("webhooks:manage",)) -> dict[str, str]:
    return bearer(await api_key(workspace, scopes=scopes))


async def test_an_endpoint_is_created_read_changed_and_deleted(client):
    workspace = await make_workspace()
    headers = await _client_of(workspace)
    created = await client.post(BASE, json={"url": "https://hooks.example.com/in", "events": ["message.opened"]},
                                headers=headers)
    assert created.status_code == 201, created.text
    body = created.json()
    endpoint_id = body["endpoint"]["id"]
    assert body["secret"] == await endpoints.revealed_secret(workspace["id"], endpoint_id)

    read = await client.get(f"{BASE}/{endpoint_id}", headers=headers)
    assert read.json()["events"] == ["message.opened"] and "secret" not in read.json()
    changed = await client.patch(f"{BASE}/{endpoint_id}", json={"events": ["message.clicked"], "enabled": False},
                                 headers=headers)
    assert changed.status_code == 200, changed.text
    assert (changed.json()["events"], changed.json()["enabled"]) == (["message.clicked"], False)
    listed = await client.get(BASE, headers=headers, params={"limit": 1})
    assert [row["id"] for row in listed.json()["data"]] == [endpoint_id] and listed.json()["next_cursor"] is None
    assert (await client.delete(f"{BASE}/{endpoint_id}", headers=headers)).status_code == 200
    assert (await client.get(f"{BASE}/{endpoint_id}", headers=headers)).status_code == 404


async def test_bad_input_is_refused_field_by_field_and_nothing_is_created(client):
    workspace = await make_workspace()
    refused = await client.post(BASE, json={"url": "http://169.254.169.254/latest", "events": ["nope"]},
                                headers=await _client_of(workspace))
    assert refused.status_code == 422
    assert set(refused.json()["error"]["fields"]) == {"url", "events"}
    assert await endpoints.endpoints_of(workspace["id"]) == []


async def test_a_key_without_the_scope_is_refused_and_another_workspace_is_not_found(client):
    mine, theirs = await make_workspace(), await make_workspace()
    theirs_endpoint, _ = await endpoints.create_endpoint(theirs["id"], {"url": "https://hooks.example.com/in",
                                                                        "events": ["message.opened"]})
    lacking = await client.get(BASE, headers=await _client_of(mine, ("subscribers:read",)))
    assert lacking.status_code == 403 and lacking.json()["error"]["code"] == "insufficient_scope"
    headers = await _client_of(mine)
    for call in (client.get(f"{BASE}/{theirs_endpoint['id']}", headers=headers),
                 client.post(f"{BASE}/{theirs_endpoint['id']}/ping", headers=headers),
                 client.get(f"{BASE}/{theirs_endpoint['id']}/deliveries", headers=headers),
                 client.delete(f"{BASE}/{theirs_endpoint['id']}", headers=headers)):
        assert (await call).status_code == 404
    assert await endpoints.endpoints_of(theirs["id"]) != []


async def test_ping_deliveries_and_replay(client):
    workspace = await make_workspace()
    headers = await _client_of(workspace)
    async with running_receiver() as receiver:
        await endpoints.allow_private_targets(workspace["id"], True)
        created = (await client.post(BASE, json={"url": receiver.url, "events": ["message.bounced"]},
                                     headers=headers)).json()
        endpoint_id, secret = created["endpoint"]["id"], created["secret"]
        pinged = await client.post(f"{BASE}/{endpoint_id}/ping", headers=headers)
        await webhooks.publish(workspace["id"], "message.bounced", {"email": "a@example.org"})
        await deliver_due(get_redis())
        first = await client.get(f"{BASE}/{endpoint_id}/deliveries", headers=headers, params={"limit": 1})
        second = await client.get(f"{BASE}/{endpoint_id}/deliveries", headers=headers,
                                  params={"limit": 1, "cursor": first.json()["next_cursor"]})
        bounced = first.json()["data"][0]
        replayed = await client.post(f"{BASE}/{endpoint_id}/deliveries/{bounced['id']}/replay", headers=headers)
        await deliver_due(get_redis())

    assert pinged.status_code == 200 and pinged.json()["status"] == "delivered"
    assert (bounced["kind"], bounced["payload"], bounced["last_status_code"]) == (
        "message.bounced", {"email": "a@example.org"}, 200)
    assert [row["kind"] for row in second.json()["data"]] == ["ping"]
    assert replayed.status_code == 202 and replayed.json()["event_id"] == bounced["event_id"]
    assert all(received.signed_by(secret) for received in receiver.received)
    assert [received.json()["id"] for received in receiver.received][1:] == [bounced["event_id"]] * 2
