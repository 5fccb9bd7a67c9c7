"""A marketer runs the campaign wizard in the browser: refused input is shown beside its field with nothing
saved, the audience count follows the ticked lists, the campaign launches into the development capture, the
detail page fills to 100% without reloading, and the message is in the development inbox.

The send worker starts only once the detail page shows the campaign waiting, so the page must be updated
live, over Server-Sent Events, to see it finish.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from playwright.async_api import expect

from app.db.campaigns import Campaign
from app.services import campaigns, kill_switch
from app.services.templates import create_template
from tests.e2e.test_portals import sign_in
from tests.factories import make_list, make_subscribers, make_user, make_workspace
from tests.integration.campaigns.helpers import HTML
from tests.integration.campaigns_ui.helpers import verified_domain

SETTLED = "() => !document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling')"


@pytest.fixture
def start_send_worker():
    processes: list[subprocess.Popen] = []

    def start() -> None:
        processes.append(subprocess.Popen(
            [sys.executable, "-m", "dramatiq", "app.tasks", "--processes", "1", "--threads", "2", "--queues", "send"],
            env=os.environ.copy(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))

    yield start
    for process in processes:
        process.terminate()
        process.wait(timeout=30)


async def _next(page) -> None:
    await page.get_by_test_id("step-next").click()
    await page.wait_for_function(SETTLED)


async def test_wizard_refuses_bad_input_then_launches_into_the_development_inbox(page, start_send_worker):
    workspace = await make_workspace("Campaigners")
    user = await make_user(workspace, "owner")
    mailing_list = await make_list(workspace, "Customers")
    await make_subscribers(mailing_list, 5, prefix="reader")
    await verified_domain(workspace["id"], "news.example.com")
    await create_template(workspace["id"], {"name": "Spring offer", "subject": "Spring is here", "html": HTML}, None)

    await sign_in(page, user["email"])
    await page.get_by_test_id("portal-card-mailing").click()
    await page.get_by_test_id("nav-campaigns").click()
    await expect(page.get_by_test_id("empty-state")).to_contain_text("No campaigns yet")
    await page.get_by_test_id("campaign-new").click()

    await page.get_by_test_id("input-subject").fill("Our spring sale")
    await page.get_by_test_id("input-from_email").fill("offers@elsewhere.example")
    await _next(page)
    await expect(page.get_by_test_id("error-name")).to_be_visible()
    await expect(page.get_by_test_id("error-from_email")).to_contain_text("news.example.com")
    await expect(page.get_by_test_id("input-subject")).to_have_value("Our spring sale")
    assert await Campaign.count().where(Campaign.workspace_id == workspace["id"]) == 0

    await page.get_by_test_id("input-name").fill("Spring sale")
    await page.get_by_test_id("input-from_email").fill("offers@news.example.com")
    await page.get_by_test_id("input-from_name").fill("The Shop")
    await _next(page)
    await expect(page.get_by_test_id("step-audience")).to_have_attribute("aria-current", "step")
    [campaign] = await Campaign.select().where(Campaign.workspace_id == workspace["id"])

    await expect(page.get_by_test_id("recipient-count")).to_have_text("0")
    await page.get_by_test_id(f"list_ids-{mailing_list['id']}").check()
    await expect(page.get_by_test_id("recipient-count")).to_have_text("5")
    await page.get_by_test_id("input-exclude_recent_days").fill("0")
    await _next(page)
    await expect(page.get_by_test_id("error-exclude_recent_days")).to_be_visible()
    await expect(page.get_by_test_id("input-exclude_recent_days")).to_have_value("0")
    await expect(page.get_by_test_id(f"list_ids-{mailing_list['id']}")).to_be_checked()
    unchanged = await campaigns.get_campaign(workspace["id"], campaign["id"])
    assert (unchanged["exclude_recent_days"], unchanged["list_ids"]) == (None, [])
    await page.get_by_test_id("input-exclude_recent_days").fill("")
    await _next(page)

    await expect(page.get_by_test_id("step-content")).to_have_attribute("aria-current", "step")
    await page.get_by_test_id("input-template_id").select_option(label="Spring offer")
    await _next(page)

    await expect(page.get_by_test_id("step-delivery")).to_have_attribute("aria-current", "step")
    # The test server's BASE_URL is http: mailbox providers could not use one-click unsubscribe.
    await expect(page.get_by_test_id("one-click-warning")).to_contain_text("https")
    # A date, time and zone mean nothing for "now": they appear with the modes that use them.
    await expect(page.get_by_test_id("when-fields")).to_be_hidden()
    await page.get_by_test_id("send-mode-at").check()
    await expect(page.get_by_test_id("when-fields")).to_be_visible()
    await page.get_by_test_id("input-window_start").fill("08:00")
    await _next(page)
    await expect(page.get_by_test_id("error-scheduled_at")).to_contain_text("Choose the date and time")
    await expect(page.get_by_test_id("error-window_end")).to_contain_text("both ends")
    await expect(page.get_by_test_id("input-window_start")).to_have_value("08:00")
    await expect(page.get_by_test_id("send-mode-at")).to_be_checked()
    unchanged = await campaigns.get_campaign(workspace["id"], campaign["id"])
    assert (unchanged["send_mode"], unchanged["window_start"]) == ("now", None)

    await page.get_by_test_id("send-mode-now").check()
    await page.get_by_test_id("input-window_start").fill("")
    await _next(page)
    await expect(page.get_by_test_id("step-review")).to_have_attribute("aria-current", "step")
    await expect(page.get_by_test_id("review-recipients")).to_contain_text("5")

    page.once("dialog", lambda dialog: dialog.accept())
    await page.get_by_test_id("campaign-launch").click()
    await expect(page.get_by_test_id("flash")).to_contain_text("is sending")
    await expect(page.get_by_test_id("campaign-percent")).to_have_text("0%")
    start_send_worker()
    await expect(page.get_by_test_id("campaign-percent")).to_have_text("100%", timeout=60_000)
    await expect(page.get_by_test_id(f"campaign-status-{campaign['id']}")).to_have_attribute("data-status", "sent")
    await expect(page.get_by_test_id("count-sent")).to_contain_text("5")
    await expect(page.get_by_test_id("log-row")).to_have_count(5)
    await expect(page.get_by_test_id(f"campaign-pause-{campaign['id']}")).to_have_count(0)

    await page.get_by_test_id("nav-inbox").click()
    await expect(page.get_by_test_id("inbox-row").filter(has_text="reader3@example.com")).to_contain_text(
        "Our spring sale")


async def test_an_ab_test_of_subjects_is_scheduled_in_a_time_zone_then_taken_back_to_draft(page):
    workspace = await make_workspace("Testers")
    user = await make_user(workspace, "marketer")
    mailing_list = await make_list(workspace, "Customers")
    await make_subscribers(mailing_list, 4, prefix="reader")
    await verified_domain(workspace["id"], "news.example.com")
    await create_template(workspace["id"], {"name": "Spring offer", "subject": "Spring is here", "html": HTML}, None)

    await sign_in(page, user["email"])
    await page.goto("/mailing/campaigns/new")
    await page.get_by_test_id("input-from_email").fill("offers@news.example.com")
    await page.get_by_test_id("input-name").fill("Subject test")
    await page.get_by_test_id("input-name").press("Enter")
    await expect(page.get_by_test_id("step-audience")).to_have_attribute("aria-current", "step")
    [campaign] = await Campaign.select().where(Campaign.workspace_id == workspace["id"])
    await page.get_by_test_id(f"list_ids-{mailing_list['id']}").check()
    await expect(page.get_by_test_id("recipient-count")).to_have_text("4")
    await _next(page)

    await page.get_by_test_id("input-template_id").select_option(label="Spring offer")
    await page.get_by_test_id("input-ab_dimension").select_option("subject")
    await page.get_by_test_id("input-variant_1_subject").fill("Spring is here")
    await page.get_by_test_id("input-ab_test_percent").fill("50")
    await _next(page)
    await expect(page.get_by_test_id("error-variant_2_subject")).to_contain_text("at least 2")
    await expect(page.get_by_test_id("input-variant_1_subject")).to_have_value("Spring is here")
    assert (await campaigns.get_campaign(workspace["id"], campaign["id"]))["ab_dimension"] == ""
    await page.get_by_test_id("input-variant_2_subject").fill("Last days of spring")
    await _next(page)

    await page.get_by_test_id("send-mode-at").check()
    await page.get_by_test_id("input-scheduled_at").fill("2030-01-01T09:30")
    await page.get_by_test_id("input-timezone").select_option("Europe/Paris")
    await _next(page)
    await expect(page.get_by_test_id("check-ab")).to_have_attribute("data-level", "warning")
    page.once("dialog", lambda dialog: dialog.accept())
    await page.get_by_test_id("campaign-launch").click()
    await expect(page.get_by_test_id("flash")).to_contain_text("is scheduled")
    await expect(page.get_by_test_id(f"campaign-status-{campaign['id']}")).to_have_attribute("data-status",
                                                                                            "scheduled")
    await expect(page.get_by_test_id("campaign-summary")).to_contain_text("2030-01-01 09:30 Europe/Paris (08:30 UTC)")
    await expect(page.get_by_test_id("ab-variant-2")).to_contain_text("Last days of spring")

    await page.get_by_test_id(f"campaign-unschedule-{campaign['id']}").click()
    await expect(page.get_by_test_id("step-setup")).to_have_attribute("aria-current", "step")
    assert (await campaigns.get_campaign(workspace["id"], campaign["id"]))["status"] == "draft"


async def test_an_admin_stops_all_sending_only_with_a_reason_and_restarts_it(page):
    workspace = await make_workspace("Stoppers")
    admin = await make_user(workspace, "admin")

    await sign_in(page, admin["email"])
    await page.goto("/mailing/campaigns")
    await page.get_by_test_id("kill-switch-open").click()
    questions: list[str] = []

    async def dismiss(dialog) -> None:
        questions.append(dialog.message)
        await dialog.dismiss()

    page.on("dialog", dismiss)
    # No reason: the message says so next to the field, without first asking "Stop every send?".
    await page.get_by_test_id("sending-stop").click()
    await expect(page.get_by_test_id("error-reason")).to_contain_text("Say why")
    assert questions == []
    assert await kill_switch.workspace_stop(workspace["id"]) is None
    page.remove_listener("dialog", dismiss)

    await page.get_by_test_id("input-reason").fill("Complaints from the spring list")
    page.once("dialog", lambda dialog: dialog.accept())
    await page.get_by_test_id("sending-stop").click()
    await expect(page.get_by_test_id("kill-switch-state")).to_contain_text("Complaints from the spring list")
    await expect(page.get_by_test_id("kill-switch-state")).to_contain_text(admin["email"])
    # Every page of the Mailing portal says so, not only Campaigns.
    for path in ("/mailing", "/mailing/delivery"):
        await page.goto(path)
        await expect(page.get_by_test_id("sending-stopped-banner")).to_be_visible()
    await page.get_by_test_id("sending-stopped-link").click()

    page.once("dialog", lambda dialog: dialog.accept())
    await page.get_by_test_id("sending-restart").click()
    await expect(page.get_by_test_id("flash")).to_contain_text("Sending is allowed again")
    await expect(page.get_by_test_id("kill-switch-open")).to_be_visible()
    assert await kill_switch.workspace_stop(workspace["id"]) is None
