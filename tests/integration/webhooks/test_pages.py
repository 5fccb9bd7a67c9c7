"""Settings → Webhooks over HTTP: add, refuse bad input, ping, reveal, replay, re-enable, who may."""

from __future__ import annotations

from app.redis_client import get_redis
from app.services import webhooks
from app.services.webhooks import endpoints
from app.services.webhooks.delivery import deliver_due, disable
from tests.factories import post_form, signed_in_client
from tests.integration.webhooks.helpers import deliveries, loopback_endpoint
from tests.integration.webhooks.receiver import running_receiver


async def test_the_empty_page_says_what_to_do(client):
    await signed_in_client(client, role="admin")
    page = await client.get("/settings/webhooks")
    assert page.status_code == 200
    assert 'data-testid="empty-state"' in page.text and "Add an endpoint" in page.text


async def test_bad_input_is_shown_next_to_its_field_and_nothing_is_saved(client):
    workspace, _ = await signed_in_client(client)
    refused = await post_form(client, "/settings/webhooks", {"url": "http://127.0.0.1:9/h", "events": []})
    assert refused.status_code == 422
    assert 'data-testid="error-url"' in refused.text and 'data-testid="error-events"' in refused.text
    assert "http://127.0.0.1:9/h" in refused.text
    assert await endpoints.endpoints_of(workspace["id"]) == []


async def test_an_admin_adds_an_endpoint_sees_its_secret_once_pings_it_and_replays_a_delivery(client):
    workspace, _ = await signed_in_client(client, role="admin")
    async with running_receiver() as receiver:
        allowed = await post_form(client, "/settings/webhooks/private-targets", {"allow_private_targets": "on"})
        added = await post_form(client, "/settings/webhooks", {"url": receiver.url, "description": "CRM",
                                                               "events": ["message.bounced", "message.opened"]})
        [endpoint] = await endpoints.endpoints_of(workspace["id"])
        secret = await endpoints.revealed_secret(workspace["id"], endpoint["id"])
        pinged = await post_form(client, f"/settings/webhooks/{endpoint['id']}/ping")
        revealed = await post_form(client, f"/settings/webhooks/{endpoint['id']}/secret")
        await webhooks.publish(workspace["id"], "message.bounced", {"email": "a@example.org"})
        await deliver_due(get_redis())
        bounced = next(row for row in await deliveries(workspace) if row["kind"] == "message.bounced")
        replayed = await post_form(client, f"/settings/webhooks/{endpoint['id']}/deliveries/{bounced['id']}/replay")
        await deliver_due(get_redis())
        shown = await client.get(f"/settings/webhooks/{endpoint['id']}")

    assert allowed.status_code == 303
    assert added.status_code == 200 and secret in added.text and 'data-testid="webhook-created"' in added.text
    assert endpoint["events"] == ["message.bounced", "message.opened"]
    assert "the ping was delivered" in pinged.text and secret in revealed.text
    assert replayed.status_code == 303
    assert [r.headers["x-ignite-event"] for r in receiver.received] == ["ping", "message.bounced", "message.bounced"]
    assert secret not in shown.text and shown.text.count('data-testid="webhook-delivery-status-') == 3


async def test_a_ping_shows_in_the_log_at_once_with_the_body_that_was_posted(client):
    workspace, _ = await signed_in_client(client, role="admin")
    async with running_receiver() as receiver:
        await post_form(client, "/settings/webhooks/private-targets", {"allow_private_targets": "on"})
        await post_form(client, "/settings/webhooks", {"url": receiver.url, "events": ["message.bounced"]})
        [endpoint] = await endpoints.endpoints_of(workspace["id"])
        pinged = await post_form(client, f"/settings/webhooks/{endpoint['id']}/ping")
    [ping] = await deliveries(workspace)
    assert 'id="webhook-deliveries" hx-swap-oob="true"' in pinged.text
    assert f'data-testid="webhook-delivery-{ping["id"]}"' in pinged.text and "Nothing delivered yet" not in pinged.text
    assert f'data-testid="webhook-delivery-payload-{ping["id"]}"' in pinged.text
    assert "A test ping from Ignite." in pinged.text and str(ping["event_id"]) in pinged.text


async def test_replaying_a_delivery_whose_retry_waits_says_so_and_adds_no_row(client):
    workspace, _ = await signed_in_client(client, role="admin")
    async with running_receiver(500) as receiver:
        endpoint, _ = await loopback_endpoint(workspace, receiver.url)
        await webhooks.publish(workspace["id"], "message.bounced", {"email": "a@example.org"})
        await deliver_due(get_redis())
        [waiting] = await deliveries(workspace)
        replayed = await post_form(client, f"/settings/webhooks/{endpoint['id']}/deliveries/{waiting['id']}/replay")
        shown = await client.get(f"/settings/webhooks/{endpoint['id']}")
    assert replayed.status_code == 303
    assert "not posted twice" in shown.text and len(await deliveries(workspace)) == 1


async def test_a_disabled_endpoint_is_shown_with_its_reason_and_enabled_again(client):
    workspace, _ = await signed_in_client(client, role="admin")
    endpoint, _ = await endpoints.create_endpoint(workspace["id"], {"url": "https://hooks.example.com/in",
                                                                    "events": ["message.opened"]})
    await endpoints.set_enabled(workspace["id"], endpoint["id"], False)
    await endpoints.set_enabled(workspace["id"], endpoint["id"], True)
    await disable(get_redis(), {**endpoint, "failures": 6})
    listed = await client.get("/settings/webhooks")
    assert f'data-testid="webhook-disabled-banner-{endpoint["id"]}"' in listed.text
    enabled = await post_form(client, f"/settings/webhooks/{endpoint['id']}/enabled", {"enabled": "1"})
    assert enabled.status_code == 303
    assert (await endpoints.endpoint_of(workspace["id"], endpoint["id"]))["enabled"]


async def test_a_marketer_may_not_see_or_change_webhooks(client):
    workspace, _ = await signed_in_client(client, role="marketer")
    assert (await client.get("/settings/webhooks")).status_code == 403
    refused = await post_form(client, "/settings/webhooks", {"url": "https://hooks.example.com/in",
                                                             "events": ["message.opened"]})
    assert refused.status_code == 403
    assert await endpoints.endpoints_of(workspace["id"]) == []
