"""An admin sets the bounce thresholds: bad input is refused next to each field (values kept, nothing stored),
good input is saved; a pause those thresholds decided is shown on the Delivery page and lifted there."""

from playwright.async_api import expect

from app.embedded import free_port
from app.services.bounces import rates
from app.services.bounces.model import FeedbackSettings
from app.services.bounces.rates import FeedbackCount
from app.services.bounces.thresholds import feedback_settings
from app.services.delivery_servers import create_server
from app.services.sqlparams import fetch_positional
from app.services.throttling import pauses
from tests.e2e.test_portals import sign_in
from tests.factories import make_user, make_workspace
from tests.integration.bounces.helpers_rates import add_sent


async def _saved_rows(workspace_id: int) -> int:
    rows = await fetch_positional("SELECT count(*) AS n FROM feedback_settings WHERE workspace_id = $1", [workspace_id])
    return rows[0]["n"]


async def test_bad_thresholds_are_refused_next_to_their_fields_then_good_ones_are_saved(page):
    workspace = await make_workspace("Thresholds")
    user = await make_user(workspace, "admin")
    await sign_in(page, user["email"])
    await page.goto("/mailing/bounces/settings")
    await expect(page.get_by_test_id("tab-bounce-settings")).to_have_attribute("aria-current", "page")
    await expect(page.get_by_test_id("input-complaint_pause_rate")).to_have_value("0.3")
    await expect(page.get_by_test_id("input-hard_pause_rate")).to_have_value("5")

    await page.get_by_test_id("input-soft_limit").fill("zero")
    await page.get_by_test_id("input-soft_days").fill("400")
    await page.get_by_test_id("input-complaint_warn_rate").fill("0.5")
    await page.get_by_test_id("input-complaint_pause_rate").fill("0.2")
    await page.get_by_test_id("input-hard_pause_rate").fill("150")
    await page.get_by_test_id("thresholds-save").click()

    await expect(page.get_by_test_id("error-soft_limit")).to_contain_text("from 1 to 100")
    await expect(page.get_by_test_id("error-soft_days")).to_contain_text("from 1 to 365")
    await expect(page.get_by_test_id("error-complaint_pause_rate")).to_contain_text("at least the warning rate")
    await expect(page.get_by_test_id("error-hard_pause_rate")).to_contain_text("at most 100")
    await expect(page.get_by_test_id("input-soft_limit")).to_have_value("zero")
    await expect(page.get_by_test_id("input-complaint_pause_rate")).to_have_value("0.2")
    assert await _saved_rows(workspace["id"]) == 0
    assert await feedback_settings(workspace["id"]) == FeedbackSettings()

    await page.get_by_test_id("input-soft_limit").fill("5")
    await page.get_by_test_id("input-soft_days").fill("14")
    await page.get_by_test_id("input-complaint_pause_rate").fill("0.8")
    await page.get_by_test_id("input-hard_pause_rate").fill("2.5")
    await page.get_by_test_id("thresholds-save").click()

    await expect(page.get_by_test_id("flash")).to_contain_text("Thresholds saved")
    await expect(page.get_by_test_id("error-soft_limit")).to_have_count(0)
    await expect(page.get_by_test_id("input-complaint_pause_rate")).to_have_value("0.8")
    assert await feedback_settings(workspace["id"]) == FeedbackSettings(
        soft_limit=5, soft_days=14, complaint_warn_rate=0.005, complaint_pause_rate=0.008, hard_pause_rate=0.025)


async def test_a_pause_is_shown_on_the_delivery_page_and_lifted_there(page):
    workspace = await make_workspace("Paused")
    user = await make_user(workspace, "admin")
    server = await create_server(workspace["id"], "smtp", {
        "name": "Main", "setting_host": "127.0.0.1", "setting_port": str(free_port()), "setting_security": "none",
        "weight": "100"})
    await add_sent(workspace["id"], server["id"], "Microsoft", 2000)
    counts = [FeedbackCount(server["id"], "Microsoft", None, "complaint", n=8)]
    await rates.count_feedback(workspace["id"], counts)
    await pauses.evaluate(workspace["id"], counts)

    await sign_in(page, user["email"])
    await page.goto("/mailing/delivery")
    await expect(page.get_by_test_id("gmail-note")).to_contain_text("Gmail sends no complaint reports")
    await expect(page.get_by_test_id("route-pause-Main-Microsoft")).to_contain_text("complaint rate 0.40%")
    await expect(page.get_by_test_id("rates-server-complaints-Main")).to_contain_text("0.40%")
    await expect(page.get_by_test_id("rates-group-complaints-Microsoft")).to_contain_text("0.40%")
    await expect(page.get_by_test_id("feedback-decisions")).to_contain_text("Paused")

    page.once("dialog", lambda dialog: dialog.dismiss())
    await page.get_by_test_id(f"lift-pause-{server['id']}-Microsoft").click()
    await expect(page.get_by_test_id("route-pause-Main-Microsoft")).to_be_visible()
    assert len(await pauses.active_pauses(workspace["id"])) == 1

    page.once("dialog", lambda dialog: dialog.accept())
    await page.get_by_test_id(f"lift-pause-{server['id']}-Microsoft").click()
    await expect(page.get_by_test_id("flash")).to_contain_text("Pause lifted")
    await expect(page.get_by_test_id("no-route-pauses")).to_be_visible()
    await expect(page.get_by_test_id("feedback-decisions")).to_contain_text("Lifted")
    assert await pauses.active_pauses(workspace["id"]) == []
