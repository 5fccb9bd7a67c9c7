"""An admin adds a webhook endpoint (a bad URL and a private address refused next to the field, nothing saved),
copies its secret, sends a test ping that a real receiver on loopback gets signed with that secret, and replays
it from the delivery log."""

from __future__ import annotations

from playwright.async_api import expect

from app.services.webhooks import endpoints
from tests.e2e.test_portals import sign_in
from tests.factories import make_user, make_workspace
from tests.integration.webhooks.receiver import running_receiver


async def test_add_an_endpoint_refuse_bad_input_ping_it_and_replay_the_ping(page):
    workspace = await make_workspace("Hook Senders")
    admin = await make_user(workspace, "admin")
    await sign_in(page, admin["email"])

    async with running_receiver() as receiver:
        await page.goto("/settings/webhooks")
        await expect(page.get_by_test_id("empty-state")).to_contain_text("No endpoints yet.")
        await page.get_by_test_id("webhook-new").click()
        await page.get_by_test_id("input-url").fill("ftp://hooks.example.com/in")
        await page.get_by_test_id("webhook-save").click()
        await expect(page.get_by_test_id("error-url")).to_contain_text("Enter a full URL starting with https://")
        await expect(page.get_by_test_id("input-url")).to_have_value("ftp://hooks.example.com/in")

        await page.get_by_test_id("input-url").fill(receiver.url)
        for kind in ("message.opened", "message.clicked", "conversion.created"):
            await page.get_by_test_id(f"input-event-{kind}").uncheck()
        await page.get_by_test_id("webhook-save").click()
        await expect(page.get_by_test_id("error-url")).to_contain_text("private, loopback or link-local")
        await expect(page.get_by_test_id("input-event-message.opened")).not_to_be_checked()
        await expect(page.get_by_test_id("input-event-message.bounced")).to_be_checked()
        assert await endpoints.endpoints_of(workspace["id"]) == []

        await page.goto("/settings/webhooks")
        await page.get_by_test_id("input-allow_private_targets").check()
        await page.get_by_test_id("webhooks-private-save").click()
        await expect(page.get_by_test_id("flash")).to_contain_text("Endpoints may now post to private addresses.")
        await expect(page.get_by_test_id("input-allow_private_targets")).to_be_checked()
        await page.get_by_test_id("webhook-new").click()
        await page.get_by_test_id("input-url").fill(receiver.url)
        await page.get_by_test_id("webhook-save").click()
        await expect(page.get_by_test_id("webhook-created")).to_be_visible()
        secret = await page.get_by_test_id("webhook-secret").input_value()

        await page.get_by_test_id("webhook-ping").click()
        await expect(page.get_by_test_id("webhook-ping-result")).to_contain_text("the ping was delivered")
        [ping] = receiver.received
        assert ping.signed_by(secret) and ping.headers["x-ignite-event"] == "ping"
        # The log beside it shows the ping at once, with the body that was posted.
        await expect(page.get_by_test_id("empty-state")).to_have_count(0)
        await expect(page.locator("[data-testid^=webhook-delivery-status-]")).to_have_text(["delivered"])
        payload = page.locator("[data-testid^=webhook-delivery-payload-]")
        await payload.locator("summary").click()
        await expect(payload).to_contain_text("A test ping from Ignite.")

        [endpoint] = await endpoints.endpoints_of(workspace["id"])
        await page.goto(f"/settings/webhooks/{endpoint['id']}")
        await expect(page.get_by_test_id("webhook-secret")).to_have_count(0)
        replay = page.get_by_test_id("webhook-deliveries").locator("[data-testid^=webhook-replay-]")
        await replay.first.click()
        await expect(page.locator("[data-testid^=webhook-delivery-status-]")).to_have_count(2)
    assert len(endpoint["events"]) == 10
