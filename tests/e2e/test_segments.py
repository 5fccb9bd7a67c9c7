"""A marketer builds a two-rule segment in the browser, watching the live count follow each edit, and saves it."""

from playwright.async_api import expect

from app.services.custom_fields import add_field
from tests.e2e.test_portals import sign_in
from tests.factories import make_list, make_subscribers, make_user, make_workspace

SETTLED = "() => !document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling')"


async def _restructure(page, action) -> None:
    """Run an edit that re-renders the builder, and wait until the new rules are in the page."""
    async with page.expect_response(lambda response: response.url.endswith("/mailing/segments/builder")):
        await action
    await page.wait_for_function(SETTLED)


async def test_build_a_two_rule_segment_and_save_it(page):
    workspace = await make_workspace("Segmenting")
    user = await make_user(workspace, "owner")
    mailing_list = await make_list(workspace, "Newsletter")
    await add_field(workspace["id"], mailing_list["id"], {"label": "City", "kind": "text"})
    await add_field(workspace["id"], mailing_list["id"], {"label": "Age", "kind": "number"})
    await make_subscribers(mailing_list, 30, {"city": "Paris", "age": 30}, prefix="young")
    await make_subscribers(mailing_list, 10, {"city": "Paris", "age": 50}, prefix="older")
    await make_subscribers(mailing_list, 20, {"city": "Berlin", "age": 50}, prefix="berlin")

    await sign_in(page, user["email"])
    await page.get_by_test_id("portal-card-mailing").click()
    await page.get_by_test_id("nav-segments").click()
    await expect(page.get_by_test_id("empty-state")).to_contain_text("No segments yet")
    await page.get_by_test_id("segment-new").click()
    await expect(page.get_by_test_id("segment-count")).to_have_text("60")

    await _restructure(page, page.get_by_test_id("add-rule-r").click())
    await _restructure(page, page.get_by_test_id("rule-field-r-0").select_option("city"))
    await page.get_by_test_id("rule-value-r-0").press_sequentially("paris")
    await expect(page.get_by_test_id("segment-count")).to_have_text("40")
    await expect(page.get_by_test_id("preview-row")).to_have_count(20)

    await _restructure(page, page.get_by_test_id("add-rule-r").click())
    await _restructure(page, page.get_by_test_id("rule-op-r-1").select_option("gt"))
    await page.get_by_test_id("rule-value-r-1").press_sequentially("40")
    await expect(page.get_by_test_id("segment-count")).to_have_text("10")
    await expect(page.get_by_test_id("preview-row").first).to_contain_text("older")

    await page.get_by_test_id("input-name").fill("Older Parisians")
    await page.get_by_test_id("segment-save").click()
    await expect(page.get_by_test_id("flash")).to_contain_text("saved: 10 subscribers")
    await expect(page.get_by_test_id("segment-row-Older Parisians")).to_contain_text("10")
