"""An admin edits the robot rules in the browser: bad input is refused next to its field with nothing
stored and what was typed kept; then a good rule is added, one is disabled and one deleted."""

from playwright.async_api import expect

from app.services.tracking import robot_rules
from tests.e2e.test_portals import sign_in
from tests.factories import make_user, make_workspace


async def _rules(workspace_id: int) -> list[dict]:
    return await robot_rules.rules_of(workspace_id)


async def test_bad_robot_rules_are_refused_and_good_ones_saved(page):
    workspace = await make_workspace("Robots")
    user = await make_user(workspace, "admin")
    before = await _rules(workspace["id"])
    await sign_in(page, user["email"])
    await page.get_by_test_id("nav-robots").click()
    await expect(page.get_by_test_id("robot-rule-row-Apple Mail Privacy Protection")).to_be_visible()

    await page.get_by_test_id("robot-rule-new").click()
    # A burst of links is only ever clicks: choosing it chooses Clicks.
    await page.get_by_test_id("input-kind").select_option("link_burst")
    await expect(page.get_by_test_id("input-applies_to")).to_have_value("click")
    await page.get_by_test_id("input-applies_to").select_option("both")
    await page.get_by_test_id("input-kind").select_option("network")
    # Only the fields of the kind chosen are shown.
    await expect(page.get_by_test_id("input-networks")).to_be_visible()
    await expect(page.get_by_test_id("input-pattern")).to_be_hidden()
    await page.get_by_test_id("input-name").fill("Office scanner")
    await page.get_by_test_id("input-networks").fill("203.0.113.0/24\n10.0.0.300/8")
    await page.get_by_test_id("robot-rule-save").click()
    await expect(page.get_by_test_id("error-networks")).to_contain_text("“10.0.0.300/8” is not an address")
    await expect(page.get_by_test_id("input-name")).to_have_value("Office scanner")
    await expect(page.get_by_test_id("input-networks")).to_have_value("203.0.113.0/24\n10.0.0.300/8")
    await expect(page.get_by_test_id("input-kind")).to_have_value("network")
    assert await _rules(workspace["id"]) == before

    await page.get_by_test_id("input-networks").fill("203.0.113.0/24\n10.0.0.0/8")
    await page.get_by_test_id("robot-rule-save").click()
    await expect(page.get_by_test_id("flash")).to_contain_text("Rule “Office scanner” added")
    await expect(page.get_by_test_id("robot-rule-row-Office scanner")).to_contain_text("2 networks")

    gmail = next(rule for rule in before if rule["name"] == "Gmail image proxy")
    await page.get_by_test_id(f"robot-rule-edit-{gmail['id']}").click()
    await expect(page.get_by_test_id("input-pattern")).to_have_value("GoogleImageProxy")
    await page.get_by_test_id("input-pattern").fill("GoogleImageProxy(")
    await page.get_by_test_id("robot-rule-save").click()
    await expect(page.get_by_test_id("error-pattern")).to_contain_text("not a valid regular expression")
    await expect(page.get_by_test_id("input-pattern")).to_have_value("GoogleImageProxy(")
    assert (await robot_rules.rule_of(workspace["id"], gmail["id"]))["pattern"] == "GoogleImageProxy"
    await page.get_by_test_id("robot-rule-cancel").click()

    await page.get_by_test_id(f"robot-rule-toggle-{gmail['id']}").click()
    await expect(page.get_by_test_id(f"robot-rule-status-{gmail['id']}")).to_have_text("Disabled")
    page.once("dialog", lambda dialog: dialog.accept())
    await page.get_by_test_id(f"robot-rule-delete-{gmail['id']}").click()
    await expect(page.get_by_test_id("flash")).to_contain_text("Rule “Gmail image proxy” deleted")
    await expect(page.get_by_test_id("robot-rule-row-Gmail image proxy")).to_have_count(0)
    assert [rule["name"] for rule in await _rules(workspace["id"])] == [
        rule["name"] for rule in before if rule["id"] != gmail["id"]] + ["Office scanner"]
