"""A marketer opens Intelligence on a workspace with history: before any model the page says what it waits for;
Retrain now runs the job on a real Dramatiq worker, and the model's AUC, the riskiest subscribers (page by
page), the engagement distribution and the best-hours heatmap show; a risk threshold out of range is refused
next to its field and changes nothing."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from playwright.async_api import expect

from app.services.sqlparams import fetch_positional
from tests.e2e.test_portals import sign_in
from tests.factories import make_user, make_workspace
from tests.integration.analytics.intelligence_seeds import history


@pytest.fixture
def default_worker() -> Iterator[None]:
    process = subprocess.Popen(
        [sys.executable, "-m", "dramatiq", "app.tasks", "--processes", "1", "--threads", "1", "--queues", "default"],
        env=os.environ.copy(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    yield
    process.terminate()
    process.wait(timeout=30)


async def test_refuse_a_bad_threshold_retrain_and_read_churn_risk_and_best_hours(page, default_worker):
    now = datetime.now(UTC)
    workspace = await make_workspace("Churny")
    marketer = await make_user(workspace, "marketer")
    await history(workspace, 200, now, signal=True)
    tuesday_two = (now - timedelta(days=now.weekday() + 6)).replace(hour=14, minute=0, second=0, microsecond=0)
    await fetch_positional("INSERT INTO performance_hours (workspace_id, hour, human_opens) VALUES ($1, $2, 40)",
                           (workspace["id"], tuesday_two))
    await sign_in(page, marketer["email"])

    await page.goto("/analytics/intelligence")
    await expect(page.get_by_test_id("churn").get_by_test_id("empty-state")).to_be_visible()
    await expect(page.get_by_test_id("best-hours")).to_contain_text("Tue 14:00 UTC")
    await expect(page.get_by_test_id("send-time-note")).to_contain_text("Best hour")

    await expect(page.get_by_test_id("churn-first-day")).to_contain_text("history is long enough")
    await expect(page.get_by_test_id("risk-form")).to_have_count(0)

    await page.get_by_test_id("retrain").click()
    await expect(page.get_by_test_id("flash")).to_contain_text("Retraining")
    for _ in range(120):
        if await page.get_by_test_id("churn-auc").count():
            break
        await page.wait_for_timeout(500)
        await page.reload()
    auc = float(await page.get_by_test_id("churn-auc").inner_text())
    assert auc > 0.8
    await expect(page.get_by_test_id("engagement-chart")).to_be_visible()
    await expect(page.get_by_test_id("at-risk-row")).to_have_count(25)
    first_page = await page.get_by_test_id("at-risk-subscriber").all_inner_texts()

    await page.get_by_test_id("input-min_risk").fill("150")
    await page.get_by_test_id("risk-apply").click()
    await expect(page.get_by_test_id("error-min_risk")).to_have_text("Enter a whole percentage from 0 to 100.")
    await expect(page.get_by_test_id("input-min_risk")).to_have_attribute("aria-invalid", "true")
    await expect(page.get_by_test_id("at-risk-subscriber")).to_have_text(first_page)

    await page.get_by_test_id("at-risk-next").click()
    await expect(page.get_by_test_id("at-risk-first")).to_be_visible()
    second_page = await page.get_by_test_id("at-risk-subscriber").all_inner_texts()
    assert second_page and not set(first_page) & set(second_page)

    await page.get_by_test_id("at-risk-subscriber").first.click()
    await expect(page).to_have_url(re.compile(r"/mailing/subscribers/\d+$"))
