"""A welcome flow built in the browser: three steps (send, wait a day, send) on a double opt-in list; a bad
step input is refused beside its field and nothing changes; activated, then a reader subscribes through the
hosted form and confirms, the first email is in the development inbox, time moves a day on (the engine is
called with a later `now` from the test), and the second email arrives."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from playwright.async_api import expect

from app.db.audience import Subscriber
from app.db.automations import Flow
from app.db.inbox import CapturedMessage
from app.services.accounts import now
from app.services.automations import engine, sending
from app.services.automations.editor import steps_of
from app.services.inbox import captured_message
from app.services.subscriptions import public_form_url
from app.services.templates import create_template
from app.settings import get_settings
from app.tasks.sending import QUEUE
from tests.e2e.test_portals import sign_in
from tests.factories import make_list, make_subscriber, make_user, make_workspace
from tests.integration.campaigns.helpers import HTML
from tests.integration.campaigns_ui.helpers import verified_domain

SETTLED = "() => !document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling')"


@pytest.fixture
def send_worker():
    """A worker on the send queue, where flow emails go like campaign messages."""
    process = subprocess.Popen(
        [sys.executable, "-m", "dramatiq", "app.tasks", "--processes", "1", "--threads", "2", "--queues", "send"],
        env=os.environ.copy(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    sending.send_with(QUEUE)
    yield process
    process.terminate()
    process.wait(timeout=30)


async def _add_step(page, position: str, kind: str) -> None:
    await page.get_by_test_id(f"add-kind-{position}").select_option(kind)
    await page.get_by_test_id(f"add-button-{position}").click()
    await expect(page.get_by_test_id("step-form")).to_be_visible()
    # htmx wires the new form's own triggers (a choice that redraws it) once the swap has settled.
    await page.wait_for_function(SETTLED)


async def _save_step(page, step_id: str) -> None:
    await page.get_by_test_id("step-save").click()
    await expect(page.get_by_test_id(f"step-{step_id}")).to_be_visible()
    await expect(page.get_by_test_id("step-form")).to_have_count(0)


async def _open_inbox_when_delivered(page, workspace_id: int, subject: str) -> None:
    """The inbox, once the send worker has captured the message with `subject` (looked for in the database)."""
    for _ in range(300):
        if await CapturedMessage.exists().where(CapturedMessage.workspace_id == workspace_id,
                                                CapturedMessage.subject == subject):
            break
        await asyncio.sleep(0.2)
    await page.goto("/mailing/inbox")


async def _steps(workspace_id: int) -> list[dict]:
    flow = await Flow.select().where(Flow.workspace_id == workspace_id).first()
    return steps_of(flow)


async def test_a_welcome_flow_built_in_the_browser_sends_its_second_email_a_day_later(page, send_worker):
    workspace = await make_workspace("Welcomers")
    user = await make_user(workspace, "marketer")
    mailing_list = await make_list(workspace, "Newsletter", opt_in="double")
    await verified_domain(workspace["id"], "news.example.com")
    for name, subject in (("Welcome one", "Welcome aboard"), ("Welcome two", "A day later")):
        await create_template(workspace["id"], {"name": name, "subject": subject, "html": HTML}, None)
    await sign_in(page, user["email"])

    await page.goto("/mailing/automations")
    await expect(page.get_by_test_id("empty-state")).to_be_visible()
    await page.get_by_test_id("flow-new").click()
    await expect(page.get_by_test_id("flow-form")).to_be_visible()
    await page.wait_for_function(SETTLED)
    await page.get_by_test_id("flow-name").fill("Welcome series")
    await page.get_by_test_id("trigger-trigger_kind").select_option("confirmed")
    await page.wait_for_function(SETTLED)
    await page.get_by_test_id("trigger-list_id").select_option(label="Newsletter")
    await page.get_by_test_id("flow-create").click()
    await expect(page.get_by_test_id("flow-title")).to_have_text("Welcome series")
    await expect(page.get_by_test_id("empty-state")).to_contain_text("No steps yet")

    await _add_step(page, "start", "send")
    await page.get_by_test_id("step-template_id").select_option(label="Welcome one")
    await page.get_by_test_id("step-from_email").fill("hello@news.example.com")
    await _save_step(page, "s1")

    # A wait of zero days is refused beside its field, the value stays, and the flow is unchanged.
    await _add_step(page, "after:s1", "wait")
    await page.get_by_test_id("step-amount").fill("0")
    await page.get_by_test_id("step-unit").select_option("days")
    await page.get_by_test_id("step-save").click()
    await expect(page.get_by_test_id("step-amount-error")).to_contain_text("whole number")
    await expect(page.get_by_test_id("step-amount")).to_have_value("0")
    assert [step["id"] for step in await _steps(workspace["id"])] == ["s1"]
    await page.get_by_test_id("step-amount").fill("1")
    await _save_step(page, "s2")

    await _add_step(page, "after:s2", "send")
    await page.get_by_test_id("step-template_id").select_option(label="Welcome two")
    await page.get_by_test_id("step-from_email").fill("hello@news.example.com")
    await _save_step(page, "s3")
    await expect(page.get_by_test_id("step-words-s2")).to_have_text("Wait 1 day")
    assert [(s["kind"], s["next"]) for s in await _steps(workspace["id"])] == [
        ("send", "s2"), ("wait", "s3"), ("send", None)]

    await page.get_by_test_id("flow-activate").click()
    await expect(page.get_by_test_id("flash")).to_contain_text("is active")
    flow = await Flow.select().where(Flow.workspace_id == workspace["id"]).first()
    await expect(page.get_by_test_id(f"flow-status-{flow['id']}")).to_have_attribute("data-status", "active")

    await page.goto(urlsplit(public_form_url(get_settings(), mailing_list["id"])).path)
    await page.get_by_test_id("input-email").fill("reader@example.com")
    await page.get_by_test_id("public-subscribe").click()
    await expect(page.get_by_test_id("public-message")).to_contain_text("Check your inbox")
    captured = await CapturedMessage.select(CapturedMessage.id).first()
    link = re.search(r"/s/confirm/\S+", (await captured_message(workspace["id"], captured["id"])).text).group(0)
    await page.goto(link)
    await page.get_by_test_id("confirm-subscription").click()
    await expect(page.get_by_test_id("subscription-confirmed")).to_be_visible()
    assert (await Subscriber.select(Subscriber.status).first())["status"] == "confirmed"

    started = now()
    await engine.advance_all(started)
    await _open_inbox_when_delivered(page, workspace["id"], "Welcome aboard")
    await expect(page.get_by_test_id("inbox-row").filter(has_text="Welcome aboard")).to_contain_text(
        "reader@example.com")
    await expect(page.get_by_test_id("inbox-row").filter(has_text="A day later")).to_have_count(0)

    # The reader's timeline shows their path through the flow, and the email links to the flow's report.
    reader = await Subscriber.select(Subscriber.id).where(Subscriber.workspace_id == workspace["id"]).first()
    await page.goto(f"/mailing/subscribers/{reader['id']}")
    await expect(page.get_by_test_id("flow-paths")).to_contain_text("Welcome series")
    await expect(page.get_by_test_id("flow-paths")).to_contain_text("at step s2")
    await page.get_by_test_id("timeline-campaign").first.click()
    await expect(page).to_have_url(re.compile(rf"/mailing/automations/{flow['id']}/report(\?|$)"))

    await page.goto(f"/mailing/automations/{flow['id']}/report?step=s2")
    await expect(page.get_by_test_id("report-sent-s1")).to_have_text("1")
    await expect(page.get_by_test_id("at-step-table")).to_contain_text("reader@example.com")

    await engine.advance_all(started + timedelta(days=1, minutes=1))
    await _open_inbox_when_delivered(page, workspace["id"], "A day later")
    await expect(page.get_by_test_id("inbox-row").filter(has_text="A day later")).to_contain_text(
        "reader@example.com")


async def test_a_re_engagement_flow_branches_on_a_field_and_its_report_shows_each_way(page):
    workspace = await make_workspace("Win back")
    user = await make_user(workspace, "marketer")
    mailing_list = await make_list(workspace, "Customers")
    await make_subscriber(mailing_list, "gold@example.com", {"plan": "gold"}, status="confirmed")
    await make_subscriber(mailing_list, "free@example.com", {"plan": "free"}, status="confirmed")
    await verified_domain(workspace["id"], "news.example.com")
    await create_template(workspace["id"], {"name": "We miss you", "subject": "Come back", "html": HTML}, None)
    await sign_in(page, user["email"])

    await page.goto("/mailing/automations/new")
    await page.get_by_test_id("flow-name").fill("Win back")
    await page.get_by_test_id("trigger-trigger_kind").select_option("manual")
    await page.wait_for_function(SETTLED)
    await page.get_by_test_id("flow-create").click()

    await _add_step(page, "start", "condition")
    await page.get_by_test_id("step-test").select_option("field")
    await page.wait_for_function(SETTLED)
    await page.get_by_test_id("step-field").fill("plan")
    await page.get_by_test_id("step-op").select_option("eq")
    await page.get_by_test_id("step-value").fill("gold")
    await _save_step(page, "s1")
    await expect(page.get_by_test_id("branch-s1-yes")).to_be_visible()

    await _add_step(page, "s1:no", "send")
    await page.get_by_test_id("step-template_id").select_option(label="We miss you")
    await page.get_by_test_id("step-from_email").fill("hello@news.example.com")
    await _save_step(page, "s2")
    await _add_step(page, "s1:yes", "tag")
    await page.get_by_test_id("step-add").fill("loyal")
    await _save_step(page, "s3")
    await expect(page.get_by_test_id("branch-s1-yes").locator("xpath=following-sibling::li[1]")).to_have_attribute(
        "data-testid", "step-s3")

    await page.get_by_test_id("flow-activate").click()
    await expect(page.get_by_test_id("flash")).to_contain_text("is active")
    await page.get_by_test_id("enrol-list_id").select_option(label="Customers")
    await page.get_by_test_id("enrol-submit").click()
    await expect(page.get_by_test_id("flash")).to_contain_text("2 people enrolled")

    await engine.advance_all(now())
    await page.get_by_test_id("flow-report").click()
    await expect(page.get_by_test_id("report-went-s1")).to_have_text("1 yes · 1 no")
    await expect(page.get_by_test_id("report-sent-s2")).to_have_text("1")
    await expect(page.get_by_test_id("report-entered-s3")).to_have_text("1")
    await expect(page.get_by_test_id("report-counters")).to_contain_text("2 completed")


async def test_the_editor_shows_every_mistake_at_once_follows_an_edit_and_archives_after_a_confirmation(page):
    workspace = await make_workspace("Walkers")
    user = await make_user(workspace, "marketer")
    await make_list(workspace, "Customers")
    await verified_domain(workspace["id"], "news.example.com")
    await create_template(workspace["id"], {"name": "Hello", "subject": "Hi", "html": HTML}, None)
    await sign_in(page, user["email"])

    await page.goto("/mailing/automations/new")
    await page.get_by_test_id("flow-create").click()
    await expect(page.get_by_test_id("flow-name-error")).to_be_visible()
    await expect(page.get_by_test_id("trigger-list_id-error")).to_be_visible()
    assert not await Flow.exists().where(Flow.workspace_id == workspace["id"])

    await page.get_by_test_id("flow-name").fill("Walk")
    await page.get_by_test_id("trigger-trigger_kind").select_option("manual")
    await page.wait_for_function(SETTLED)
    await page.get_by_test_id("flow-create").click()
    await expect(page.get_by_test_id("settings-exit_unsubscribed")).to_be_checked()
    await expect(page.get_by_test_id("settings-min_gap_hours")).to_be_hidden()
    await page.get_by_test_id("settings-enrolment").select_option("every")
    await expect(page.get_by_test_id("settings-min_gap_hours")).to_be_visible()

    await _add_step(page, "start", "send")
    await page.get_by_test_id("step-template_id").select_option(label="Hello")
    await _save_step(page, "s1")
    await page.get_by_test_id("flow-activate").click()
    await expect(page.get_by_test_id("flash")).to_contain_text("is active")
    await expect(page.get_by_test_id("flow-publish")).to_have_count(0)
    await _add_step(page, "start", "wait")
    await page.get_by_test_id("step-amount").fill("1")
    await _save_step(page, "s2")
    await expect(page.get_by_test_id("flow-publish")).to_have_text("Publish version 2")

    await page.get_by_test_id("flow-publish").click()
    await page.get_by_test_id("migrate-submit").click()
    await expect(page.get_by_test_id("migrate-from_version-error")).to_be_visible()
    await expect(page.get_by_test_id("migrate-to_step_id-error")).to_be_visible()
    await expect(page.get_by_test_id("migrate-confirm-form")).to_have_count(0)

    page.once("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))
    await page.get_by_test_id("flow-archive").click()
    await expect(page.get_by_test_id("flash")).to_contain_text("is archived")
    assert (await Flow.select(Flow.status).where(Flow.workspace_id == workspace["id"]).first())["status"] == "archived"


async def test_marketing_limits_refuse_half_quiet_hours_next_to_the_field_and_keep_what_was_saved(page):
    from app.services.automations import limits

    workspace = await make_workspace("Limited")
    user = await make_user(workspace, "marketer")
    await sign_in(page, user["email"])
    await page.goto("/mailing/automations/limits")
    await page.get_by_test_id("limits-max_per_day").fill("2")
    await page.get_by_test_id("limits-quiet_start").fill("21:00")
    await page.get_by_test_id("limits-save").click()
    await expect(page.get_by_test_id("limits-quiet_end-error")).to_contain_text("both the start and the end")
    assert await limits.get_limits(workspace["id"]) == {"max_per_day": "", "quiet_start": "", "quiet_end": ""}

    await page.get_by_test_id("limits-quiet_end").fill("08:00")
    await page.get_by_test_id("limits-save").click()
    await expect(page.get_by_test_id("limits-notice")).to_be_visible()
    assert await limits.get_limits(workspace["id"]) == {"max_per_day": "2", "quiet_start": "21:00",
                                                        "quiet_end": "08:00"}
