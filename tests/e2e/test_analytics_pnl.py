"""Today's P&L moves on screen when a postback arrives (SSE), and the costs page refuses a bad amount next to
its field, keeps what was typed and changes nothing, then saves a good one that the P&L counts. The revenue
page's tables stay inside their cards."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import httpx
from playwright.async_api import expect

from app.services.analytics import costs
from app.services.delivery_servers import create_server
from app.services.tracking.conversions import rotate_postback_secret
from tests.e2e.test_portals import sign_in
from tests.factories import make_user, make_workspace
from tests.integration.analytics.money_seeds import campaign, conversion_day, performance_day
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
    await row.get_by_test_id("input-cost_per_thousand").fill("1,5")
    await row.get_by_test_id("save-server-cost").click()
    row = page.get_by_test_id(f"server-cost-{server['id']}")
    await expect(row.get_by_test_id("error-cost_per_thousand")).to_contain_text("Use a point for decimals")
    [kept] = (await costs.cost_sheet(workspace_id)).servers
    assert kept["cost_per_thousand"] == Decimal("0.40"), "a decimal comma is never read as 15"

    await row.get_by_test_id("input-cost_per_thousand").fill("0.40")
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


async def test_the_revenue_tables_stay_inside_their_cards(page):
    workspace = await make_workspace("Revenue Readers")
    ws = workspace["id"]
    server = await create_server(ws, "capture", {"name": "Premier transactional ESP"})
    spring = await campaign(ws, "Spring sale 2026-12-01 13:28:19 to the whole list")
    today = datetime.now(UTC).date()
    await performance_day(ws, today, server_id=server["id"], campaign_id=spring, sent=123_456, human_clicks=4_321)
    await conversion_day(ws, today, campaign_id=spring, server_id=server["id"], offer_id="77", conversions=1_234,
                         revenue="123456.78")
    analyst = await make_user(workspace, "analyst")
    await sign_in(page, analyst["email"])
    await page.set_viewport_size({"width": 1280, "height": 800})

    await page.goto("/analytics/revenue")

    for by in ("campaign", "offer", "server", "list"):
        card = page.get_by_test_id(f"revenue-by-{by}")
        await expect(card.get_by_test_id("revenue-row")).to_have_count(1)
        spilled = await card.evaluate("card => card.scrollWidth > card.clientWidth")
        assert not spilled, f"the table by {by} runs out of its card"
