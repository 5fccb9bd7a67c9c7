"""An admin runs a volume plan: bad input is refused next to its fields and nothing is saved; a good plan is
saved with its days to target, downloaded as CSV, compared with another, and applied to routing, warned first
that a rule of their own matches before the plan's."""

from __future__ import annotations

from playwright.async_api import expect

from app.db.delivery import DeliveryServer
from app.db.planner import VolumeScenario
from app.services import routing
from app.services.delivery_servers import create_server
from tests.e2e.test_portals import sign_in
from tests.factories import make_user, make_workspace


async def test_run_a_plan_with_bad_input_then_run_it_compare_it_and_apply_it(page):
    workspace = await make_workspace("Planner")
    owner = await make_user(workspace, "owner")
    first = await create_server(workspace["id"], "capture", {"name": "ESP One", "daily_quota": "50000"})
    second = await create_server(workspace["id"], "capture", {"name": "ESP Two", "daily_quota": "50000"})
    await sign_in(page, owner["email"])

    await page.goto("/analytics/volume-planner")
    await expect(page.get_by_test_id("empty-state")).to_contain_text("No scenarios yet.")
    await page.get_by_test_id("input-name").fill("Ramp")
    await page.get_by_test_id("input-target").fill("a lot")
    await page.get_by_test_id("input-days").fill("0")
    await page.get_by_test_id("planner-run").click()
    await expect(page.get_by_test_id("error-target")).to_contain_text("Enter a daily volume")
    await expect(page.get_by_test_id("error-days")).to_contain_text("Plan from 1 to 365 days")
    await expect(page.get_by_test_id("input-target")).to_have_value("a lot")
    assert await VolumeScenario.count().where(VolumeScenario.workspace_id == workspace["id"]) == 0

    await page.get_by_test_id("input-target").fill("2,000")
    await page.get_by_test_id("input-days").fill("30")
    await page.get_by_test_id("planner-run").click()
    await expect(page.get_by_test_id("plan-days-to-target")).to_have_text("1")
    await expect(page.get_by_test_id("plan-final")).to_have_text("2,000")

    await page.get_by_test_id("back-planner").click()
    await page.get_by_test_id("input-name").fill("Too much")
    await page.get_by_test_id("input-target").fill("500000")
    await page.get_by_test_id(f"planner-include-{second['id']}").uncheck()
    await page.get_by_test_id("planner-run").click()
    await expect(page.get_by_test_id("plan-shortfall")).to_contain_text("50,000 a day")
    await expect(page.get_by_test_id("plan-shortfall")).to_contain_text("raise their quotas or add servers")
    async with page.expect_download() as downloading:
        await page.get_by_test_id("plan-export").click()
    exported = (await (await downloading.value).path()).read_text().splitlines()
    assert exported[0] == "day,server,domain_group,messages,cost,expected_revenue"
    assert {line.split(",")[1] for line in exported[1:]} == {"ESP One"} and len(exported) == 1 + 90 * 5

    await page.get_by_test_id("back-planner").click()
    rows = await VolumeScenario.select(VolumeScenario.id).where(
        VolumeScenario.workspace_id == workspace["id"]).order_by(VolumeScenario.id)
    for row in rows:
        await page.get_by_test_id(f"compare-{row['id']}").check()
    await page.get_by_test_id("compare-run").click()
    await expect(page.get_by_test_id(f"compare-days-{rows[1]['id']}")).to_have_text("not within 90 days")

    await routing.save_rule(workspace["id"], {"name": "VIP pool", f"weight_{second['id']}": "1"})
    await page.get_by_test_id(f"compare-link-{rows[0]['id']}").click()
    await expect(page.get_by_test_id("plan-rules-first")).to_contain_text("“VIP pool”")
    await page.get_by_test_id("plan-apply").click()
    await expect(page.get_by_test_id("flash")).to_contain_text("applied")
    weights = {row["id"]: row["weight"] for row in await DeliveryServer.select().where(
        DeliveryServer.workspace_id == workspace["id"])}
    # The weights follow the plan's split now: the busiest server at the top of the 0-1000 scale.
    assert max(weights.values()) == 1000 and set(weights) == {first["id"], second["id"]}
