"""An admin connects Everflow (bad settings refused next to their fields, nothing saved), tests the connection,
pulls, records a conversion Ignite missed, dismisses a scrub, and sees a refused key with the last good pull."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.async_api import expect

from app.db.everflow import EverflowConnection
from app.db.tracking import Conversion
from app.redis_client import get_redis
from tests.e2e.test_portals import sign_in
from tests.factories import make_user
from tests.integration.analytics.everflow_helpers import reconciliation_scenario
from tests.integration.analytics.everflow_server import LocalEverflow


@pytest.fixture
def local_everflow() -> Iterator[LocalEverflow]:
    server = LocalEverflow().start()
    yield server
    server.stop()


async def test_connect_pull_record_a_missing_conversion_dismiss_a_scrub_and_see_a_refused_key(page, local_everflow):
    sent = await reconciliation_scenario(get_redis(), local_everflow)
    workspace_id = sent.workspace["id"]
    await EverflowConnection.delete().where(EverflowConnection.workspace_id == workspace_id)
    admin = await make_user(sent.workspace, "admin")
    await sign_in(page, admin["email"])

    await page.goto("/analytics/revenue/everflow")
    await expect(page.get_by_test_id("empty-state")).to_contain_text("Everflow is not connected.")
    await page.get_by_test_id("input-base_url").fill("ftp://api.example.com")
    await page.get_by_test_id("input-timezone_id").fill("utc")
    await page.get_by_test_id("input-enabled").check()
    await page.get_by_test_id("everflow-save").click()

    await expect(page.get_by_test_id("error-base_url")).to_contain_text("Enter the API's address")
    await expect(page.get_by_test_id("error-api_key")).to_contain_text("needs an API key")
    await expect(page.get_by_test_id("error-timezone_id")).to_contain_text("timezone id")
    await expect(page.get_by_test_id("input-base_url")).to_have_value("ftp://api.example.com")
    assert await EverflowConnection.count().where(EverflowConnection.workspace_id == workspace_id) == 0

    await page.get_by_test_id("input-base_url").fill(local_everflow.base_url)
    await page.get_by_test_id("input-api_key").fill(local_everflow.api_key)
    await page.get_by_test_id("input-timezone_id").fill("67")
    await page.get_by_test_id("everflow-save").click()
    await expect(page.get_by_test_id("everflow-notice")).to_have_text("Everflow connection saved.")
    await expect(page.get_by_test_id("input-api_key")).to_have_value("")
    await page.get_by_test_id("everflow-test").click()
    await expect(page.get_by_test_id("everflow-test-result")).to_contain_text("Connected")

    await page.get_by_test_id("everflow-pull").click()
    await expect(page.get_by_test_id("everflow-notice")).to_contain_text("Pulled 6 records from Everflow")
    await expect(page.get_by_test_id("count-missing_in_ignite")).to_contain_text("1")
    await expect(page.get_by_test_id("count-scrubbed")).to_contain_text("1")
    await expect(page.get_by_test_id("everflow-record-tx-repriced")).to_contain_text("Payout changed")

    await page.get_by_test_id("record-tx-everflow-only").click()
    await expect(page.get_by_test_id("everflow-list-notice")).to_have_text("Conversion recorded in Ignite.")
    await expect(page.get_by_test_id("everflow-record-tx-everflow-only")).to_have_count(0)
    await expect(page.get_by_test_id("count-missing_in_ignite")).to_contain_text("0")
    recorded = await Conversion.select().where(Conversion.workspace_id == workspace_id,
                                               Conversion.transaction_id == "tx-everflow-only").first()
    assert recorded is not None and recorded["delivery_id"] == sent.deliveries[5]["id"]

    await page.get_by_test_id("dismiss-tx-scrub").click()
    await expect(page.get_by_test_id("everflow-list-notice")).to_have_text("Dismissed.")
    await expect(page.get_by_test_id("everflow-record-tx-scrub")).to_have_count(0)
    await page.get_by_test_id("input-state").select_option("dismissed")
    await page.get_by_test_id("everflow-filter").click()
    await expect(page.get_by_test_id("everflow-record-tx-scrub")).to_contain_text("Dismissed by")

    local_everflow.api_key = "rotated-in-everflow"
    await page.get_by_test_id("everflow-pull").click()
    await expect(page.get_by_test_id("everflow-last-error")).to_contain_text("refused the API key (401)")
    await expect(page.get_by_test_id("everflow-last-error")).to_contain_text("from the last good pull")
