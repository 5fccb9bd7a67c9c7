"""API keys managed through the API itself (scope `admin`): the secret is in the create and rotate answers only."""

from __future__ import annotations

import asyncio

from app.db.audit import AuditEntry
from app.services import api_keys
from tests.api_client import api_key, bearer
from tests.factories import make_workspace


async def test_create_list_rotate_and_revoke(client):
    workspace = await make_workspace()
    admin = bearer(await api_key(workspace))
    created = await client.post("/api/v1/keys", headers=admin, json={
        "name": "Shop receipts", "scopes": ["messages:send", "messages:read"], "sandbox": True,
        "allowed_ips": ["127.0.0.1"], "rate_limit": 120})
    assert created.status_code == 201
    body = created.json()
    secret, key_id = body["secret"], body["key"]["id"]
    assert secret.startswith("ig_test_")
    assert body["key"]["prefix"] == secret[:12] + "…"
    assert body["key"]["mode"] == "test" and body["key"]["status"] == "active"
    assert body["key"]["allowed_ips"] == ["127.0.0.1/32"]

    listed = await client.get("/api/v1/keys", headers=admin)
    assert [key["name"] for key in listed.json()["data"]] == ["test key", "Shop receipts"]
    assert secret not in listed.text
    assert (await client.get("/api/v1/", headers=bearer(secret))).json()["scopes"] == ["messages:read",
                                                                                       "messages:send"]

    rotated = await client.post(f"/api/v1/keys/{key_id}/rotate?grace_hours=0", headers=admin)
    assert rotated.status_code == 200
    new = rotated.json()["secret"]
    assert (await client.get("/api/v1/", headers=bearer(secret))).json()["error"]["code"] == "key_expired"
    assert (await client.get("/api/v1/", headers=bearer(new))).status_code == 200

    revoked = await client.delete(f"/api/v1/keys/{key_id}", headers=admin)
    assert revoked.status_code == 200 and revoked.json()["status"] == "revoked"
    assert "secret" not in revoked.json()
    assert (await client.get("/api/v1/", headers=bearer(new))).json()["error"]["code"] == "key_revoked"
    actions = [row["action"] for row in await AuditEntry.select(AuditEntry.action).where(
        AuditEntry.workspace_id == workspace["id"]).order_by(AuditEntry.id)]
    assert actions == ["api_key.created", "api_key.rotated", "api_key.revoked"]


async def test_bad_input_is_refused_field_by_field(client):
    workspace = await make_workspace()
    answer = await client.post("/api/v1/keys", headers=bearer(await api_key(workspace)), json={
        "name": "x", "scopes": ["nope"], "allowed_ips": ["not an address"], "expires_at": "2020-01-01T00:00:00Z"})
    assert answer.status_code == 422
    assert set(answer.json()["error"]["fields"]) == {"scopes", "allowed_ips", "expires_at"}
    assert len(await api_keys.list_keys(workspace["id"])) == 1


async def test_only_admin_keys_manage_keys(client):
    workspace = await make_workspace()
    secret = await api_key(workspace, scopes=("messages:send", "webhooks:manage"))
    for answer in (await client.get("/api/v1/keys", headers=bearer(secret)),
                   await client.post("/api/v1/keys", headers=bearer(secret), json={"name": "x", "scopes": ["admin"]})):
        assert answer.status_code == 403
        assert answer.json()["error"]["code"] == "insufficient_scope"
    assert len(await api_keys.list_keys(workspace["id"])) == 1


async def test_another_workspaces_key_is_not_found(client):
    theirs = await make_workspace()
    row, _ = await api_keys.create_key(theirs["id"], name="theirs", scopes=["admin"])
    mine = bearer(await api_key(await make_workspace()))
    for answer in (await client.get(f"/api/v1/keys/{row['id']}", headers=mine),
                   await client.post(f"/api/v1/keys/{row['id']}/rotate", headers=mine),
                   await client.delete(f"/api/v1/keys/{row['id']}", headers=mine)):
        assert answer.status_code == 404
    assert (await api_keys.get_key(theirs["id"], row["id"]))["revoked_at"] is None
    assert "theirs" not in (await client.get("/api/v1/keys", headers=mine)).text


async def test_pages_follow_the_cursor(client):
    workspace = await make_workspace()
    admin = bearer(await api_key(workspace))
    for n in range(4):
        await api_keys.create_key(workspace["id"], name=f"key {n}", scopes=["stats:read"])
    first = (await client.get("/api/v1/keys?limit=3", headers=admin)).json()
    second = (await client.get(f"/api/v1/keys?limit=3&cursor={first['next_cursor']}", headers=admin)).json()
    assert len(first["data"]) == 3 and len(second["data"]) == 2
    assert second["next_cursor"] is None
    assert {key["id"] for key in first["data"]}.isdisjoint({key["id"] for key in second["data"]})


async def test_a_create_retried_with_its_idempotency_key_makes_one_key(client):
    workspace = await make_workspace()
    headers = {**bearer(await api_key(workspace)), "Idempotency-Key": "create-shop-key"}
    answers = await asyncio.gather(*(client.post("/api/v1/keys", headers=headers,
                                                 json={"name": "Shop", "scopes": ["messages:send"]})
                                     for _ in range(4)))
    assert {answer.status_code for answer in answers} == {201}
    assert len({answer.json()["secret"] for answer in answers}) == 1
    assert [row["name"] for row in await api_keys.list_keys(workspace["id"])] == ["test key", "Shop"]


async def test_a_nul_character_in_a_body_is_refused_before_any_handler(client):
    workspace = await make_workspace()
    answer = await client.post("/api/v1/keys", headers={**bearer(await api_key(workspace)),
                                                        "Content-Type": "application/json"},
                               content=b'{"name": "shop\\u0000", "scopes": ["admin"]}')
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "invalid_body"
    assert len(await api_keys.list_keys(workspace["id"])) == 1
