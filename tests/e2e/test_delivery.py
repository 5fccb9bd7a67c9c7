"""An admin adds an SMTP server, tests it, adds a routing rule and previews routing."""

from playwright.async_api import expect

from tests.e2e.test_portals import sign_in
from tests.factories import make_user, make_workspace
from tests.integration.delivery.smtp_servers import start_smtp_sink


async def test_add_smtp_server_test_it_route_gmail_and_preview(page):
    workspace = await make_workspace("Sender Co")
    user = await make_user(workspace, "owner")
    sink, port = start_smtp_sink()
    try:
        await sign_in(page, user["email"])
        await page.get_by_test_id("portal-card-mailing").click()
        await page.get_by_test_id("nav-delivery").click()
        await expect(page.get_by_test_id("empty-state")).to_be_visible()
        await page.get_by_test_id("server-kind").select_option("smtp")
        await page.get_by_test_id("server-new").click()
        await page.get_by_test_id("input-name").fill("Sink MTA")
        await page.get_by_test_id("input-setting_host").fill("127.0.0.1")
        await page.get_by_test_id("input-setting_port").fill(str(port))
        await page.get_by_test_id("input-setting_security").select_option("none")
        await page.get_by_test_id("input-hourly_quota").fill("1000")
        await page.get_by_test_id("server-save").click()
        await expect(page.get_by_test_id("server-title")).to_contain_text("Sink MTA")

        await page.get_by_test_id("server-test").click()
        await expect(page.get_by_test_id("server-test-result")).to_contain_text("Connection works")

        await page.goto("/mailing/delivery/routing")
        await page.get_by_test_id("input-name").fill("Gmail via sink")
        await page.get_by_test_id("input-domain_group_id").select_option(label="Gmail")
        await page.locator("input[name^='weight_']").first.fill("100")
        await page.get_by_test_id("rule-add").click()
        await expect(page.get_by_test_id("rules-table")).to_contain_text("Gmail via sink")

        await page.get_by_test_id("routing-preview-link").click()
        await page.get_by_test_id("input-addresses").fill("fan@gmail.com\nbuyer@example.org")
        await page.get_by_test_id("preview-run").click()
        rows = page.get_by_test_id("route-row")
        await expect(rows).to_have_count(2)
        await expect(rows.first).to_contain_text("Gmail via sink")
        await expect(rows.first.get_by_test_id("route-server")).to_have_text("Sink MTA")

        await page.goto("/mailing/delivery")
        await expect(page.get_by_test_id("live-Sink MTA")).to_contain_text("1,000")
    finally:
        sink.terminate()
        sink.wait()
