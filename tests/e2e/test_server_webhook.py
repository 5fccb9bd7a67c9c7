"""An admin gives Ignite a Mailgun server's webhook signing key on the server's page: a blank one is refused
next to its field with nothing stored, a real one is saved and the card says so."""

import re

from playwright.async_api import expect

from app.services.bounces import webhooks
from app.services.delivery_servers import create_server
from tests.e2e.test_portals import sign_in
from tests.factories import make_user, make_workspace


async def test_a_blank_signing_key_is_refused_on_the_page_then_a_real_one_is_saved(page):
    workspace = await make_workspace("Webhooks")
    user = await make_user(workspace, "admin")
    server = await create_server(workspace["id"], "http_api", {
        "name": "Mailgun", "setting_provider": "mailgun", "setting_api_url": "http://127.0.0.1:9",
        "setting_domain": "mg.example.com", "setting_api_key": "k", "weight": "100"})
    await sign_in(page, user["email"])
    await page.goto(f"/mailing/delivery/servers/{server['id']}")
    # The card loads itself after the page.
    await expect(page.get_by_test_id("webhook-url")).to_have_value(re.compile(r"/webhooks/mailgun/\S+$"))
    await expect(page.get_by_test_id("webhook-key-state")).to_contain_text("No signing key stored yet")

    await page.get_by_test_id("input-signing_key").fill("   ")
    await page.get_by_test_id("webhook-key-save").click()
    await expect(page.get_by_test_id("error-signing_key")).to_be_visible()
    await expect(page.get_by_test_id("webhook-key-state")).to_contain_text("No signing key stored yet")
    assert await webhooks.signing_key(workspace["id"], server["id"]) == ""

    await page.get_by_test_id("input-signing_key").fill("key-abc123")
    await page.get_by_test_id("webhook-key-save").click()
    await expect(page.get_by_test_id("webhook-key-saved")).to_contain_text("Signing key saved")
    await expect(page.get_by_test_id("webhook-key-state")).to_contain_text("A signing key is stored")
    await expect(page.get_by_test_id("error-signing_key")).to_have_count(0)
    assert await webhooks.signing_key(workspace["id"], server["id"]) == "key-abc123"
