"""An owner creates an API key in Settings (bad input refused next to each field, nothing made), copies the
secret shown once, calls the API with it, rotates it (both secrets work during the grace period) and revokes it."""

from __future__ import annotations

import httpx
from playwright.async_api import expect

from app.services import api_keys
from tests.api_client import bearer
from tests.e2e.test_portals import sign_in
from tests.factories import make_user, make_workspace


async def _caller(base_url: str, secret: str) -> httpx.Response:
    async with httpx.AsyncClient(base_url=base_url) as client:
        return await client.get("/api/v1/", headers=bearer(secret))


async def test_create_refuse_bad_input_use_rotate_and_revoke_a_key(page, base_url):
    workspace = await make_workspace("Key Makers")
    owner = await make_user(workspace, "owner")
    await sign_in(page, owner["email"])
    await page.goto("/settings/api-keys")
    await expect(page.get_by_test_id("empty-state")).to_contain_text("No API keys yet.")

    await expect(page.get_by_test_id("scope-help-messages:send")).to_contain_text("Send transactional messages")
    await page.get_by_test_id("input-allowed_ips").fill("10.0.0.0/33\n198.51.100.7\nnope")
    await page.get_by_test_id("input-expires_on").fill("2020-01-31")
    await page.get_by_test_id("api-key-create").click()
    await expect(page.get_by_test_id("error-name")).to_contain_text("Give the key a name")
    await expect(page.get_by_test_id("error-scopes")).to_have_text("Choose at least one scope.")
    await expect(page.get_by_test_id("error-allowed_ips")).to_contain_text("'10.0.0.0/33', 'nope'.")
    await expect(page.get_by_test_id("error-expires_at")).to_have_text("The expiry must be in the future.")
    await expect(page.get_by_test_id("input-allowed_ips")).to_have_value("10.0.0.0/33\n198.51.100.7\nnope")
    assert await api_keys.list_keys(workspace["id"]) == []

    await page.get_by_test_id("input-name").fill("Shop receipts")
    for scope in api_keys.SCOPES[:-1]:
        await page.get_by_test_id(f"scope-{scope}").check()
    await page.get_by_test_id("input-allowed_ips").fill("127.0.0.0/8")
    await page.get_by_test_id("input-expires_on").fill("")
    await page.get_by_test_id("api-key-create").click()
    await expect(page.get_by_test_id("api-key-secret-warning")).to_contain_text("shown only this once")
    secret = await page.get_by_test_id("api-key-secret").input_value()
    assert secret.startswith("ig_live_")
    [row] = await api_keys.list_keys(workspace["id"])
    await expect(page.get_by_test_id(f"api-key-prefix-{row['id']}")).to_have_text(secret[:12] + "…")
    assert secret not in await page.get_by_test_id("api-keys-table").inner_text()
    await page.get_by_test_id("api-key-copy").click()

    assert sorted((await _caller(base_url, secret)).json()["scopes"]) == sorted(api_keys.SCOPES[:-1])
    await page.set_viewport_size({"width": 1400, "height": 900})
    await page.reload()
    # Every scope wraps inside the card at 1400 px: Revoke is not clipped, and the grace select is labelled.
    card = await page.get_by_test_id("api-keys-card").bounding_box()
    revoke = await page.get_by_test_id(f"api-key-revoke-{row['id']}").bounding_box()
    assert card and revoke and revoke["x"] + revoke["width"] <= card["x"] + card["width"]
    await expect(page.get_by_label("Old secret works for")).to_be_visible()
    await expect(page.get_by_test_id(f"api-key-last-used-{row['id']}")).to_contain_text("127.0.0.1")
    await expect(page.get_by_test_id("api-key-secret")).to_have_count(0)

    page.once("dialog", lambda dialog: dialog.accept())
    await page.get_by_test_id(f"api-key-rotate-{row['id']}").click()
    await expect(page.get_by_test_id("api-key-grace")).to_contain_text("The previous secret keeps working until")
    rotated = await page.get_by_test_id("api-key-secret").input_value()
    assert rotated != secret
    await expect(page.get_by_test_id(f"api-key-old-until-{row['id']}")).to_be_visible()
    assert (await _caller(base_url, secret)).status_code == 200
    assert (await _caller(base_url, rotated)).status_code == 200

    page.once("dialog", lambda dialog: dialog.accept())
    await page.get_by_test_id(f"api-key-revoke-{row['id']}").click()
    await expect(page.get_by_test_id(f"api-key-status-{row['id']}")).to_contain_text("Revoked")
    await expect(page.get_by_test_id(f"api-key-rotate-{row['id']}")).to_have_count(0)
    for presented in (secret, rotated):
        assert (await _caller(base_url, presented)).json()["error"]["code"] == "key_revoked"


async def test_the_docs_link_opens_the_rendered_reference(page, base_url):
    workspace = await make_workspace("Docs Readers")
    owner = await make_user(workspace, "owner")
    await sign_in(page, owner["email"])
    await page.goto("/settings/api-keys")
    # A full page load: swapped into the app's page by hx-boost, the reference's script ran under the app's policy.
    await page.get_by_test_id("api-docs-link").click()
    await expect(page).to_have_url(f"{base_url}/api/v1/docs")
    await expect(page.locator(".swagger-ui .info .title")).to_contain_text("Ignite")
