"""Delivery in the browser: an admin adds an SMTP server, tests it, routes Gmail to it and previews routing;
bad input on the server, test, rule, warm-up and sending-domain forms shows its message next to the field,
keeps what was typed and changes nothing."""

from playwright.async_api import expect

from app.db.content import SendingDomain
from app.db.delivery import DeliveryServer, RoutingRule, WarmupPlan
from app.services import warmup_plans
from app.services.delivery_servers import create_server
from tests.e2e.test_portals import sign_in
from tests.factories import make_user, make_workspace
from tests.integration.delivery.smtp_servers import start_smtp_sink


async def _admin(page, name: str) -> dict:
    workspace = await make_workspace(name)
    await sign_in(page, (await make_user(workspace, "owner"))["email"])
    return workspace


async def test_add_smtp_server_test_it_route_gmail_and_preview(page):
    await _admin(page, "Sender Co")
    sink, port = start_smtp_sink()
    try:
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
        await expect(page.get_by_test_id("server-row-Sink MTA")).to_contain_text("passed")
    finally:
        sink.terminate()
        sink.wait()


async def test_server_form_and_test_connection_show_errors_in_place(page):
    workspace = await _admin(page, "Server Forms")
    await page.goto("/mailing/delivery/servers/new?kind=smtp")
    await page.get_by_test_id("input-name").fill("Broken MTA")
    await page.get_by_test_id("input-setting_host").fill("127.0.0.1")
    await page.get_by_test_id("input-setting_port").fill("abc")
    await page.get_by_test_id("input-from_email").fill("news@nodot")
    await page.get_by_test_id("input-weight").fill("5000")
    await page.get_by_test_id("server-save").click()

    for field in ("setting_port", "from_email", "weight"):
        await expect(page.get_by_test_id(f"error-{field}")).to_be_visible()
    await expect(page.get_by_test_id("input-setting_port")).to_have_value("abc")
    await expect(page.get_by_test_id("input-name")).to_have_value("Broken MTA")
    assert await DeliveryServer.count().where(DeliveryServer.workspace_id == workspace["id"]) == 0

    server = await create_server(workspace["id"], "capture", {"name": "Dev"})
    await page.goto(f"/mailing/delivery/servers/{server['id']}")
    await page.get_by_test_id("input-test_to").fill("qa@nodot")
    await page.get_by_test_id("server-test").click()
    await expect(page.get_by_test_id("error-test_to")).to_be_visible()
    await expect(page.get_by_test_id("input-test_to")).to_have_value("qa@nodot")
    row = await DeliveryServer.select(DeliveryServer.last_check_at).where(DeliveryServer.id == server["id"]).first()
    assert row["last_check_at"] is None


async def test_routing_rule_without_a_pool_shows_the_message_and_keeps_the_name(page):
    workspace = await _admin(page, "Rule Forms")
    server = await create_server(workspace["id"], "capture", {"name": "Main"})
    await page.goto("/mailing/delivery/routing")
    await page.get_by_test_id("input-name").fill("Gmail first")
    await page.get_by_test_id("input-domain_group_id").select_option(label="Gmail")
    await page.get_by_test_id("rule-add").click()
    await expect(page.get_by_test_id("error-pool")).to_contain_text("weight above 0")
    await expect(page.get_by_test_id("input-name")).to_have_value("Gmail first")

    await page.get_by_test_id(f"input-weight_{server['id']}").fill("5000")
    await page.get_by_test_id("rule-add").click()
    await expect(page.get_by_test_id(f"error-weight_{server['id']}")).to_be_visible()
    await expect(page.get_by_test_id(f"input-weight_{server['id']}")).to_have_value("5000")
    assert await RoutingRule.count().where(RoutingRule.workspace_id == workspace["id"]) == 0


async def test_bad_warmup_caps_and_days_show_next_to_their_fields(page):
    workspace = await _admin(page, "Warmup Forms")
    server = await create_server(workspace["id"], "capture", {"name": "Fresh IP"})
    await page.goto("/mailing/delivery/warmup")
    await page.get_by_test_id("input-name").fill("Gentle")
    await page.get_by_test_id("input-daily_caps").fill("50, -3, x")
    await page.get_by_test_id("warmup-plan-add").click()
    await expect(page.get_by_test_id("error-daily_caps")).to_contain_text("daily caps")
    await expect(page.get_by_test_id("input-daily_caps")).to_have_value("50, -3, x")
    assert await WarmupPlan.count().where(WarmupPlan.name == "Gentle") == 0

    standard = next(p for p in await warmup_plans.plans(workspace["id"]) if p["name"] == "standard")
    await page.get_by_test_id(f"warmup-plan-{server['id']}").select_option(str(standard["id"]))
    await page.get_by_test_id(f"warmup-day-{server['id']}").fill("400")
    await page.get_by_test_id(f"warmup-save-{server['id']}").click()
    form = page.get_by_test_id(f"warmup-server-{server['id']}")
    await expect(form.get_by_test_id("error-day")).to_be_visible()
    await expect(page.get_by_test_id(f"warmup-day-{server['id']}")).to_have_value("400")
    row = await DeliveryServer.select(DeliveryServer.warmup_plan_id).where(DeliveryServer.id == server["id"]).first()
    assert row["warmup_plan_id"] is None


async def test_sending_domain_form_refuses_a_url(page):
    workspace = await _admin(page, "Domain Forms")
    await page.goto("/mailing/delivery/domains")
    await page.get_by_test_id("input-domain").fill("https://mail.example.com")
    await page.get_by_test_id("domain-add").click()
    await expect(page.get_by_test_id("error-domain")).to_contain_text("mail.example.com")
    await expect(page.get_by_test_id("input-domain")).to_have_value("https://mail.example.com")
    assert await SendingDomain.count().where(SendingDomain.workspace_id == workspace["id"]) == 0
