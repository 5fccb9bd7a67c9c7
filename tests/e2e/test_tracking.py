"""A campaign goes to the development capture; its recipient reads the web version, clicks a link and
unsubscribes, while the marketer watches the campaign's figures and the person's timeline move without
reloading either page.

The recipient's browser reads like a person's (a desktop Chrome User-Agent, where headless Chromium would
be taken for a robot) and the message is dated a day back, so the robot rules leave its click to a person.
The aggregator runs in the test, as tests/integration/tracking does.
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
from datetime import timedelta
from email import policy
from email.parser import BytesParser
from html import unescape
from urllib.parse import urlsplit

import pytest
from playwright.async_api import expect

from app.db.audience import Subscriber
from app.db.campaigns import Delivery
from app.db.inbox import CapturedMessage
from app.redis_client import get_redis
from app.services import campaigns
from app.services.audit import Actor
from app.services.templates import create_template
from app.tasks.sending import QUEUE
from tests.e2e.test_portals import sign_in
from tests.factories import make_list, make_subscribers, make_user, make_workspace
from tests.integration.campaigns_ui.helpers import verified_domain
from tests.integration.tracking.helpers import drain_all

HTML = ("<html><body><p>Hello {{ first_name | default('there') }}, spring is here.</p>"
        '<p><a href="{{ web_version_url }}">View it in your browser</a></p>'
        '<p><a href="https://shop.example.com/spring">Spring picks</a></p>'
        '<p><a href="{{ unsubscribe_url }}">Unsubscribe</a> {{ physical_address }}</p></body></html>')
PERSON = ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 "
          "Safari/537.36")
HREF = re.compile(r'href="([^"]*)"')


@pytest.fixture
def send_worker(base_url):
    """A send worker whose messages link to the server under test."""
    processes: list[subprocess.Popen] = []

    def start() -> None:
        processes.append(subprocess.Popen(
            [sys.executable, "-m", "dramatiq", "app.tasks", "--processes", "1", "--threads", "2", "--queues", "send"],
            env={**os.environ, "BASE_URL": base_url}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))

    yield start
    for process in processes:
        process.terminate()
        process.wait(timeout=30)


async def _links_of(workspace_id: int, address: str) -> dict[str, str]:
    """The paths of the captured message's links by their first letter: v (web version), c (click), u."""
    raw = await CapturedMessage.select(CapturedMessage.raw).where(
        CapturedMessage.workspace_id == workspace_id, CapturedMessage.rcpt_to == address).first()
    assert raw, f"nothing captured for {address}"
    message = BytesParser(policy=policy.default).parsebytes(raw["raw"])
    html = message.get_body(("html",)).get_content()
    paths = [urlsplit(unescape(href)) for href in HREF.findall(html)]
    return {path.path[1]: f"{path.path}?{path.query}" if path.query else path.path for path in paths
            if path.path[1:3] in ("v/", "c/", "u/")}


async def _aggregated(kinds: set[str], campaign_id: int) -> None:
    """Run the aggregator until the events of those kinds are stored (the hot path flushes within moments)."""
    redis = get_redis()
    for _ in range(100):
        await drain_all(redis)
        rows = await Subscriber.raw("SELECT DISTINCT kind FROM events WHERE campaign_id = {}", campaign_id)
        if kinds <= {row["kind"] for row in rows}:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"the aggregator never stored {kinds}")


async def test_the_marketer_watches_a_recipient_read_click_and_leave(page, browser, base_url, send_worker):
    workspace = await make_workspace("Trackers")
    user = await make_user(workspace, "owner")
    mailing_list = await make_list(workspace, "Customers", company_name="The Shop", company_address="1 Main St")
    [reader] = await make_subscribers(mailing_list, 1, prefix="reader")
    await verified_domain(workspace["id"], "news.example.com")
    template = await create_template(workspace["id"], {"name": "Spring", "subject": "Spring is here",
                                                       "html": HTML}, None)
    draft = await campaigns.create_draft(workspace["id"], {
        "name": "Spring sale", "from_email": "offers@news.example.com", "subject": "Spring is here",
        "template_id": str(template["id"]), "list_ids": [str(mailing_list["id"])]})
    await campaigns.launch(get_redis(), QUEUE, workspace["id"], draft["id"], Actor(user["id"], user["email"]))
    send_worker()

    await sign_in(page, user["email"])
    await page.goto(f"/mailing/campaigns/{draft['id']}")
    await expect(page.get_by_test_id("campaign-percent")).to_have_text("100%", timeout=60_000)
    await expect(page.get_by_test_id("engagement-empty")).to_be_visible()
    await expect(page.get_by_test_id("engagement-delivered")).to_have_text("against 1 delivered")
    timeline = await page.context.new_page()
    await timeline.goto(f"/mailing/subscribers/{reader['id']}")
    await expect(timeline.get_by_test_id("timeline-entry")).to_have_count(1)
    await expect(timeline.get_by_test_id("timeline-entry")).to_contain_text("Sent Spring sale")

    links = await _links_of(workspace["id"], reader["email"])
    # Sent yesterday: a click now is no scanner's click-on-arrival.
    await Delivery.update({Delivery.sent_at: Delivery.sent_at - timedelta(days=1)}).where(
        Delivery.campaign_id == draft["id"])
    recipient = await browser.new_context(base_url=base_url, user_agent=PERSON)
    await recipient.route("https://shop.example.com/**", lambda route: route.fulfill(body="The spring shop"))
    inbox = await recipient.new_page()
    await inbox.goto(links["v"])
    await expect(inbox.get_by_text("spring is here")).to_be_visible()
    await inbox.get_by_role("link", name="Spring picks").click()
    await expect(inbox.get_by_text("The spring shop")).to_be_visible()
    await inbox.goto(links["u"])
    await inbox.get_by_test_id("unsubscribe-list").click()
    await expect(inbox.get_by_test_id("unsubscribed")).to_be_visible()
    await recipient.close()
    await _aggregated({"web_view", "click", "unsubscribe"}, draft["id"])

    await expect(page.get_by_test_id("engagement-web_views")).to_have_text("1")
    await expect(page.get_by_test_id("engagement-unique_clicks")).to_have_text("1")
    await expect(page.get_by_test_id("rate-clicks")).to_contain_text("100.0% click rate")
    await expect(page.get_by_test_id("engagement-unsubscribes")).to_have_text("1")
    await expect(page.get_by_test_id("engagement-bot_clicks")).to_have_text("0")
    await expect(page.get_by_test_id("click-map").get_by_test_id("click-map-clicks")).to_have_text(["1"],
                                                                                                  timeout=20_000)
    entries = timeline.get_by_test_id("timeline-entry")
    await expect(entries).to_have_count(4)
    await expect(entries.nth(0)).to_contain_text("Unsubscribed Spring sale from this list on the unsubscribe page")
    await expect(timeline.locator('[data-testid="timeline-entry"][data-kind="click"]')).to_contain_text(
        "https://shop.example.com/spring")
    await expect(timeline.locator('[data-testid="timeline-entry"][data-kind="web_view"]')).to_contain_text(
        "Read in a browser Spring sale")
