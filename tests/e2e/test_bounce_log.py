"""An admin reads the bounce log (filters, the raw report), reclassifies a bounce nobody recognised, and keeps
workspace rules: a bad pattern is refused next to its field with the values kept and nothing saved."""

from playwright.async_api import expect

from app.piccolo_conf import DB
from app.redis_client import get_redis
from app.services.bounces import actions, intake, processing
from app.services.bounces.intake import Incoming
from app.services.bounces.matching import DeliveryMatch
from app.services.bounces.model import UNKNOWN, FeedbackSettings, Outcome
from app.services.sqlparams import fetch_positional
from tests.e2e.test_portals import sign_in
from tests.factories import make_user, make_workspace
from tests.integration.bounces.helpers_processing import dsn, sent_delivery, statuses


async def _rules(workspace_id: int) -> list[dict]:
    return await fetch_positional("SELECT name, pattern FROM bounce_rules WHERE workspace_id = $1 ORDER BY position",
                                  [workspace_id])


async def _unknown(workspace_id: int, delivery: dict) -> None:
    match = DeliveryMatch(delivery["id"], workspace_id, delivery["campaign_id"], delivery["subscriber_id"],
                          delivery["server_id"], delivery["domain_group"], delivery["email"])
    outcome = Outcome(delivery["email"], UNKNOWN, diagnostic="550 frobnicated by the gateway")
    async with DB.transaction():
        await actions.apply(workspace_id, [actions.Feedback(outcome, match)], FeedbackSettings())


async def test_the_log_shows_a_processed_bounce_and_an_unknown_one_is_reclassified(page):
    workspace = await make_workspace("Bouncing")
    user = await make_user(workspace, "admin")
    await sign_in(page, user["email"])
    await page.goto("/mailing/bounces")
    await expect(page.get_by_test_id("empty-state")).to_contain_text("Mailboxes")

    await sent_delivery(workspace, "ann@example.org")
    bob = await sent_delivery(workspace, "bob@example.org")
    report_id = await intake.accept(Incoming("imap", "1", raw=dsn("ann@example.org"), workspace_id=workspace["id"]))
    await processing.process_reports(get_redis(), [report_id])
    await _unknown(workspace["id"], bob)

    await page.goto("/mailing/bounces")
    await expect(page.get_by_test_id("bounce-row")).to_have_count(2)
    await page.get_by_test_id("bounce-category").select_option("hard")
    await expect(page.get_by_test_id("bounce-row")).to_have_count(1)
    await expect(page.get_by_test_id("bounce-row")).to_contain_text("ann@example.org")
    await expect(page.get_by_test_id("bounce-row")).to_contain_text("marked bounced and blacklisted")
    await page.get_by_test_id("bounce-row").get_by_role("link", name="Report").click()
    await expect(page.get_by_test_id("bounce-raw-text")).to_contain_text("Final-Recipient: rfc822; ann@example.org")

    await page.goto("/mailing/bounces?category=unknown")
    await page.get_by_test_id("bounce-row").get_by_role("link", name="Review").click()
    await page.get_by_test_id("input-category").select_option("hard")
    await page.get_by_test_id("input-save_rule").check()
    await page.get_by_test_id("input-name").fill("Gateway")
    await page.get_by_test_id("input-pattern").fill("frobnicated (by")
    await page.get_by_test_id("reclassify-save").click()
    await expect(page.get_by_test_id("error-pattern")).to_contain_text("not a valid regular expression")
    await expect(page.get_by_test_id("input-pattern")).to_have_value("frobnicated (by")
    await expect(page.get_by_test_id("input-name")).to_have_value("Gateway")
    assert await _rules(workspace["id"]) == [] and await statuses(workspace["id"], "bob@example.org") == ["confirmed"]

    await page.get_by_test_id("input-pattern").fill("frobnicated by")
    await page.get_by_test_id("reclassify-save").click()
    await expect(page.get_by_test_id("flash")).to_contain_text("Reclassified as hard bounce")
    await expect(page.get_by_test_id("bounce-category")).to_have_text("Hard bounce")
    assert await _rules(workspace["id"]) == [{"name": "Gateway", "pattern": "frobnicated by"}]
    assert await statuses(workspace["id"], "bob@example.org") == ["bounced"]


async def test_a_rule_with_a_bad_pattern_is_refused_then_a_good_one_is_added_and_disabled(page):
    workspace = await make_workspace("Rules")
    user = await make_user(workspace, "admin")
    await sign_in(page, user["email"])
    await page.goto("/mailing/bounces")
    await page.get_by_test_id("tab-bounce-rules").click()
    await expect(page.get_by_test_id("rules-empty")).to_be_visible()
    await expect(page.get_by_test_id("built-in-rule").first).to_be_visible()

    await page.get_by_test_id("input-name").fill("Relay full")
    await page.get_by_test_id("input-pattern").fill("[mailbox full")
    await page.get_by_test_id("input-category").select_option("soft")
    await page.get_by_test_id("rule-save").click()
    await expect(page.get_by_test_id("error-pattern")).to_contain_text("not a valid regular expression")
    await expect(page.get_by_test_id("input-pattern")).to_have_value("[mailbox full")
    await expect(page.get_by_test_id("input-category")).to_have_value("soft")
    assert await _rules(workspace["id"]) == []

    await page.get_by_test_id("input-pattern").fill("mailbox (is )?full")
    await page.get_by_test_id("rule-save").click()
    await expect(page.get_by_test_id("flash")).to_contain_text("Rule “Relay full” added")
    await expect(page.get_by_test_id("rule-row")).to_contain_text("Relay full")
    await page.get_by_role("button", name="Disable").click()
    await expect(page.get_by_test_id("rule-row")).to_contain_text("disabled")
    assert await _rules(workspace["id"]) == [{"name": "Relay full", "pattern": "mailbox (is )?full"}]
