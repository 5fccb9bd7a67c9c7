"""Settings → API keys is for owners and admins: the list shows keys masked, and every change is audited."""

from __future__ import annotations

from app.db.audit import AuditEntry
from app.services import api_keys
from tests.factories import make_workspace, post_form, signed_in_client


async def test_people_below_admin_cannot_see_or_make_keys(client):
    workspace, _ = await signed_in_client(client, role="marketer")
    assert (await client.get("/settings/api-keys")).status_code == 403
    answer = await post_form(client, "/settings/api-keys", {"name": "x", "scopes": "admin"})
    assert answer.status_code == 403
    assert await api_keys.list_keys(workspace["id"]) == []


async def test_an_admin_makes_a_key_shown_once_then_masked(client):
    workspace, user = await signed_in_client(client, role="admin")
    made = await post_form(client, "/settings/api-keys", {
        "name": "Warehouse", "scopes": ["stats:read", "subscribers:read"], "mode": "test", "rate_limit": "600",
        "allowed_ips": "203.0.113.0/24, 198.51.100.7"})
    assert made.status_code == 200
    [row] = await api_keys.list_keys(workspace["id"])
    assert row["scopes"] == ["stats:read", "subscribers:read"] and row["sandbox"] and row["rate_limit"] == 600
    assert row["allowed_ips"] == ["203.0.113.0/24", "198.51.100.7/32"] and row["created_by"] == user["id"]
    secret = made.text.split('data-testid="api-key-secret"')[0].rsplit('value="', 1)[1].split('"')[0]
    assert api_keys.secret_hash(secret) == (await api_keys.ApiKey.select(api_keys.ApiKey.secret_hash).first())[
        "secret_hash"]
    listed = await client.get("/settings/api-keys")
    assert secret not in listed.text
    assert f"{row['prefix']}…" in listed.text
    [entry] = await AuditEntry.select().where(AuditEntry.workspace_id == workspace["id"],
                                              AuditEntry.action.like("api_key.%"))
    assert entry["action"] == "api_key.created" and secret not in str(entry["details"])


async def test_a_bad_rate_limit_is_refused_next_to_its_field(client):
    workspace, _ = await signed_in_client(client, role="owner")
    answer = await post_form(client, "/settings/api-keys", {"name": "x", "scopes": "admin", "rate_limit": "lots"})
    assert answer.status_code == 422
    assert 'data-testid="error-rate_limit"' in answer.text
    assert await api_keys.list_keys(workspace["id"]) == []


async def test_the_activity_feed_says_what_was_done_to_a_key(client):
    from app.redis_client import get_redis
    from app.services import activity_feed, audit

    workspace = await make_workspace()
    actor = audit.Actor(user_id=None, email="ana@example.com")
    row, _ = await api_keys.create_audited_key(get_redis(), workspace["id"], actor, name="Shop", scopes=["admin"])
    await api_keys.revoke_key(get_redis(), workspace["id"], row["id"], actor)
    sentences = [entry["sentence"] for entry in await activity_feed.recent(workspace["id"])]
    assert sentences == ["ana@example.com revoked API key “Shop”", "ana@example.com created API key “Shop”"]


async def test_every_bad_address_line_is_named_and_each_scope_says_what_it_allows(client):
    workspace, _ = await signed_in_client(client, role="owner")
    form = await client.get("/settings/api-keys")
    assert 'data-testid="scope-help-webhooks:manage"' in form.text and "delivery log" in form.text
    answer = await post_form(client, "/settings/api-keys", {
        "name": "x", "scopes": "admin", "allowed_ips": "10.0.0.0/33\n198.51.100.7\nnope"})
    assert answer.status_code == 422
    error = answer.text.split('data-testid="error-allowed_ips"')[1].split("</")[0]
    assert "10.0.0.0/33" in error and "nope" in error and "198.51.100.7" not in error
    assert await api_keys.list_keys(workspace["id"]) == []
