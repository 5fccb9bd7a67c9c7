"""An analyst compares two ESPs: a range that ends before it starts is refused next to its field with the
figures unchanged, two ticked servers show day by day, and a server drills down to its campaigns and its bounce
log. Revenue, cost and eCPM show on a laptop's screen without scrolling the matrix sideways."""

from __future__ import annotations

from playwright.async_api import expect

from tests.e2e.test_portals import sign_in
from tests.factories import make_user, make_workspace
from tests.integration.analytics.test_esp_performance import _seeded


async def test_compare_two_esps_and_drill_down_to_a_server(page) -> None:
    workspace = await make_workspace("ESP Comparers")
    analyst = await make_user(workspace, "analyst")
    alpha, beta, _ = await _seeded(workspace)
    await sign_in(page, analyst["email"])

    await page.set_viewport_size({"width": 1280, "height": 800})
    await page.goto("/analytics/esp-performance")
    matrix = page.get_by_test_id("esp-matrix")
    await expect(matrix.get_by_test_id("esp-row")).to_have_count(2)
    # What each server earned per 1,000 is read without scrolling the wide matrix sideways.
    for cell in ("cell-revenue", "cell-cost", "cell-ecpm"):
        await expect(matrix.get_by_test_id(cell).first).to_be_in_viewport()
    await expect(matrix.get_by_test_id("provisional")).to_have_count(1)

    await page.get_by_label("From").fill("2099-01-01")
    await page.get_by_test_id("period-apply").click()
    await expect(page.get_by_text("The end date comes before the start date.")).to_be_visible()
    await expect(page.get_by_test_id("esp-row")).to_have_count(2)

    await page.goto("/analytics/esp-performance")
    await page.get_by_test_id(f"compare-{alpha}").check()
    await page.get_by_test_id(f"compare-{beta}").check()
    await page.get_by_test_id("compare-submit").click()
    trends = page.get_by_test_id("esp-trends")
    await expect(trends.get_by_test_id("trend-ecpm")).to_contain_text("Alpha")
    await expect(trends.get_by_test_id("trend-ecpm")).to_contain_text("Beta SES")
    await expect(page.get_by_test_id(f"compare-{alpha}")).to_be_checked()

    await page.get_by_test_id("esp-matrix").get_by_role("link", name="Alpha").click()
    await expect(page.get_by_test_id("server-campaigns").get_by_test_id("campaign-row")).to_have_count(2)
    await page.get_by_test_id("server-bounces").click()
    await expect(page).to_have_url(f"/mailing/bounces?server_id={alpha}")
