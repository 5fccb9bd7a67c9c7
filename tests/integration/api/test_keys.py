"""API keys authenticate the JSON API: a valid key in `Authorization: Bearer`, its scopes, expiry, addresses."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

import pytest

from app.redis_client import get_redis
from app.services import api_keys, audit
from app.services.forms import FormError
from tests.api_client import api_key, bearer
from tests.factories import make_workspace


async def _root(client, secret: str):
    return await client.get("/api/v1/", headers=bearer(secret))


async def test_a_valid_key_names_its_workspace_and_scopes(client):
    workspace = await make_workspace()
    secret = await api_key(workspace, scopes=("subscribers:read", "stats:read"))
    answer = await _root(client, secret)
    assert answer.status_code == 200
    assert answer.json()["workspace_id"] == workspace["id"]
    assert answer.json()["scopes"] == ["stats:read", "subscribers:read"]
    assert secret.startswith("ig_live_")


async def test_a_test_key_is_a_sandbox_key(client):
    secret = await api_key(await make_workspace(), sandbox=True)
    answer = await _root(client, secret)
    assert secret.startswith("ig_test_")
    assert answer.json()["sandbox"] is True


@pytest.mark.parametrize(("headers", "code"), [
    ({}, "missing_key"),
    ({"Authorization": "Basic dXNlcjpwYXNz"}, "missing_key"),
    ({"Authorization": "Bearer nonsense"}, "invalid_key"),
    ({"Authorization": "Bearer ig_live_" + "A" * 43}, "invalid_key"),
])
async def test_no_key_or_an_unknown_key_is_refused(client, headers, code):
    answer = await client.get("/api/v1/", headers=headers)
    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == code
    assert answer.headers["www-authenticate"].startswith("Bearer")


async def test_the_key_is_stored_only_as_a_keyed_hash(client):
    workspace = await make_workspace()
    row, secret = await api_keys.create_key(workspace["id"], name="shop", scopes=["messages:send"])
    [stored] = await api_keys.ApiKey.select().where(api_keys.ApiKey.id == row["id"])
    assert secret not in str(stored)
    assert stored["secret_hash"] == api_keys.secret_hash(secret) != api_keys.secret_hash(secret + "x")
    assert stored["prefix"] == secret[:12]
    assert "secret_hash" not in row


async def test_an_expired_key_is_refused(client):
    workspace = await make_workspace()
    row, secret = await api_keys.create_key(workspace["id"], name="soon", scopes=["admin"],
                                            expires_at=datetime.now(UTC) + timedelta(hours=1))
    assert (await _root(client, secret)).status_code == 200
    await api_keys.ApiKey.update({api_keys.ApiKey.expires_at: datetime.now(UTC) - timedelta(seconds=1)}).where(
        api_keys.ApiKey.id == row["id"])
    await api_keys.forget_cached(get_redis(), [api_keys.secret_hash(secret)])
    answer = await _root(client, secret)
    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "key_expired"


async def test_a_revoked_key_is_refused_at_once(client):
    workspace = await make_workspace()
    row, secret = await api_keys.create_key(workspace["id"], name="shop", scopes=["admin"])
    assert (await _root(client, secret)).status_code == 200  # now cached
    await api_keys.revoke_key(get_redis(), workspace["id"], row["id"], audit.SYSTEM)
    answer = await _root(client, secret)
    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "key_revoked"


async def test_a_key_is_held_to_its_allowed_addresses(client):
    workspace = await make_workspace()
    elsewhere = await api_key(workspace, allowed_ips=["203.0.113.0/24"])
    here = await api_key(workspace, allowed_ips=["203.0.113.0/24", "127.0.0.0/8"])
    refused = await _root(client, elsewhere)
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "ip_not_allowed"
    assert (await _root(client, here)).status_code == 200


async def test_rotation_keeps_the_old_secret_working_until_the_grace_ends(client):
    workspace = await make_workspace()
    row, old = await api_keys.create_key(workspace["id"], name="shop", scopes=["admin"])
    assert (await _root(client, old)).status_code == 200
    rotated, new = await api_keys.rotate_key(get_redis(), workspace["id"], row["id"], audit.SYSTEM)
    assert new != old and rotated["id"] == row["id"]
    assert (await _root(client, new)).status_code == 200
    assert (await _root(client, old)).status_code == 200
    await api_keys.ApiKey.update({api_keys.ApiKey.previous_valid_until: datetime.now(UTC)}).where(
        api_keys.ApiKey.id == row["id"])
    await api_keys.forget_cached(get_redis(), [api_keys.secret_hash(old)])
    answer = await _root(client, old)
    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "key_expired"
    assert (await _root(client, new)).status_code == 200


async def test_last_use_is_recorded_with_the_address(client):
    workspace = await make_workspace()
    row, secret = await api_keys.create_key(workspace["id"], name="shop", scopes=["admin"])
    assert row["last_used_at"] is None
    await _root(client, secret)
    used = await api_keys.get_key(workspace["id"], row["id"])
    assert used["last_used_at"] is not None
    assert used["last_used_ip"] == "127.0.0.1"


@pytest.mark.parametrize(("options", "field"), [
    ({"name": " "}, "name"),
    ({"scopes": []}, "scopes"),
    ({"scopes": ["everything"]}, "scopes"),
    ({"allowed_ips": ["10.0.0.0/33"]}, "allowed_ips"),
    ({"expires_at": datetime.now(UTC) - timedelta(minutes=1)}, "expires_at"),
    ({"rate_limit": 0}, "rate_limit"),
])
async def test_bad_input_creates_nothing(client, options, field):
    workspace = await make_workspace()
    with pytest.raises(FormError) as refused:
        await api_keys.create_key(workspace["id"], **{"name": "shop", "scopes": ["admin"], **options})
    assert field in refused.value.errors
    assert await api_keys.list_keys(workspace["id"]) == []


async def test_a_lookup_racing_a_revocation_leaves_nothing_stale_in_the_cache(client, monkeypatch):
    workspace = await make_workspace()
    row, secret = await api_keys.create_key(workspace["id"], name="shop", scopes=["admin"])
    read_before_commit = await api_keys._stored_record(api_keys.secret_hash(secret))
    await api_keys.revoke_key(get_redis(), workspace["id"], row["id"], audit.SYSTEM)

    async def stale_read(hashed: str) -> dict:
        monkeypatch.undo()
        return read_before_commit

    # A request that read the row just before the revocation committed finishes now, and tries to cache it.
    monkeypatch.setattr(api_keys, "_stored_record", stale_read)
    assert (await _root(client, secret)).status_code == 200
    answer = await _root(client, secret)
    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "key_revoked"


async def _until(condition, tries: int = 200) -> bool:
    for _ in range(tries):
        if condition():
            return True
        await asyncio.sleep(0.01)
    return False


async def test_a_revocation_reaches_the_copies_other_processes_keep(client):
    workspace = await make_workspace()
    row, secret = await api_keys.create_key(workspace["id"], name="shop", scopes=["admin"])
    hashed = api_keys.secret_hash(secret)
    other_process = api_keys.LocalCopies()
    other_process.listen(get_redis())
    assert await _until(lambda: other_process.listening)
    record = await api_keys._shared_record(get_redis(), hashed, time.time())
    other_process.keep(hashed, record, time.time(), other_process.generation)
    assert other_process.get(hashed, time.time()) == record

    await api_keys.revoke_key(get_redis(), workspace["id"], row["id"], audit.SYSTEM)
    assert await _until(lambda: other_process.get(hashed, time.time()) is None)
    other_process.task.cancel()
