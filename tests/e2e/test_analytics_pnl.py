"""Today's P&L moves on screen when a postback arrives (SSE), and the costs page refuses a bad amount next to
its field, keeps what was typed and changes nothing, then saves a good one that the P&L counts."""

from __future__ import annotations

from decimal import Decimal

import httpx
from playwright.async_api import expect

from app.services.analytics import costs
from app.services.delivery_servers import create_server
from app.services.tracking.conversions import rotate_postback_secret
from tests.e2e.test_portals import sign_in
from tests.factories import make_user
from tests.integration.tracking.helpers import sent_campaign


async def test_todays_pnl_moves_when_a_postback_arrives(page, base_url):
    sent = await sent_campaign(recipients=1)
    key = await rotate_postback_secret(sent.workspace["id"])
    user = await make_user(sent.workspace, "analyst")
    await sign_in(page, user["email"])
    await page.add_init_script("document.addEventListener('htmx:sseMessage', () => { window.pnlHeard = true; })")
    await page.goto("/analytics/pnl")
    await expect(page.get_by_test_id("today-revenue")).to_have_text("0.00")
    # The stream's first message comes once the server listens for revenue: a postback from then on is heard.
    await page.wait_for_function("() => window.pnlHeard === true")

    async with httpx.AsyncClient(base_url=base_url) as client:
        for transaction, payout in (("e2e-1", "12.50"), ("e2e-2", "30")):
            answer = await client.post("/postback", params={
                "key": key, "transaction_id": transaction, "sub3": str(sent.deliveries[0]["id"]), "payout": payout})
            assert answer.status_code == 200, answer.text

    await expect(page.get_by_test_id("today-revenue")).to_have_text("42.50")
    await expect(page.get_by_test_id("today-conversions")).to_have_text("2")
    await expect(page.get_by_test_id("today-profit")).to_have_text("42.50")


async def test_a_bad_cost_is_refused_beside_its_field_then_a_good_one_is_saved(page):
    sent = await sent_campaign(recipients=1)
    workspace_id = sent.workspace["id"]
    server = await create_server(workspace_id, "capture", {"name": "Capture", "cost_per_thousand": "0.40"})
    user = await make_user(sent.workspace, "marketer")
    await sign_in(page, user["email"])
    await page.goto("/analytics/pnl")
    await page.get_by_test_id("pnl-costs-link").click()

    row = page.get_by_test_id(f"server-cost-{server['id']}")
    await row.get_by_test_id("input-monthly_cost").fill("-20")
    await row.get_by_test_id("save-server-cost").click()

    row = page.get_by_test_id(f"server-cost-{server['id']}")
    await expect(row.get_by_test_id("error-monthly_cost")).to_have_text("Enter 0 or more.")
    await expect(row.get_by_test_id("input-monthly_cost")).to_have_value("-20")
    [kept] = (await costs.cost_sheet(workspace_id)).servers
    assert kept["monthly_cost"] == Decimal(0)

    await row.get_by_test_id("input-monthly_cost").fill("310")
    await row.get_by_test_id("save-server-cost").click()

    await expect(page.get_by_test_id("costs-notice")).to_have_text("Costs of Capture saved.")
    await expect(page.get_by_test_id("error-monthly_cost")).to_have_count(0)
    [saved] = (await costs.cost_sheet(workspace_id)).servers
    assert saved["monthly_cost"] == Decimal(310)

    extras = page.get_by_test_id("extra-form")
    await extras.get_by_test_id("input-name").fill("")
    await extras.get_by_test_id("input-amount").fill("abc")
    await extras.get_by_test_id("add-extra").click()
    await expect(page.get_by_test_id("error-name")).to_be_visible()
    await expect(page.get_by_test_id("error-amount")).to_be_visible()
    await expect(page.get_by_test_id("error-on_date")).to_be_visible()
    assert (await costs.cost_sheet(workspace_id)).extras == []
