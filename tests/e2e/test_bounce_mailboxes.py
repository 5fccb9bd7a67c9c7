"""An admin adds a POP3 bounce mailbox (bad settings refused next to their field, nothing saved), tests it, polls
it, and the bounce it held shows in the bounce log and turns its subscriber to bounced. The report is processed
by a real Dramatiq worker on the bounces queue, and the mailbox is a real Dovecot."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Callable, Iterator

import pytest
from playwright.async_api import expect

from app.db.audience import Subscriber
from app.services.bounces import mailboxes
from tests.e2e.test_portals import sign_in
from tests.factories import make_user, make_workspace
from tests.integration.bounces.helpers_mailboxes import dovecot
from tests.integration.bounces.helpers_processing import dsn, sent_delivery

__all__ = ["dovecot"]


@pytest.fixture
def start_bounce_worker() -> Iterator[Callable[[], None]]:
    processes: list[subprocess.Popen] = []

    def start() -> None:
        processes.append(subprocess.Popen(
            [sys.executable, "-m", "dramatiq", "app.tasks", "--processes", "1", "--threads", "1",
             "--queues", "bounces"], env=os.environ.copy(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))

    yield start
    for process in processes:
        process.terminate()
        process.wait(timeout=30)


async def _status_becomes(subscriber_id: int, status: str, seconds: float = 30) -> str:
    current = ""
    for _ in range(int(seconds * 10)):
        current = (await Subscriber.select(Subscriber.status).where(Subscriber.id == subscriber_id).first())["status"]
        if current == status:
            break
        await asyncio.sleep(0.1)
    return current


async def test_add_a_mailbox_refuse_bad_input_test_it_poll_it_and_see_the_bounce(page, dovecot, start_bounce_worker):
    workspace = await make_workspace("Bounce Senders")
    owner = await make_user(workspace, "owner")
    delivery = await sent_delivery(workspace, "gone@example.org")
    user = dovecot.new_user()
    dovecot.append(user, dsn("gone@example.org", delivery_id=delivery["id"]))
    await sign_in(page, owner["email"])

    await page.goto("/mailing/bounces/mailboxes")
    await expect(page.get_by_test_id("empty-state")).to_contain_text("No bounce mailboxes yet.")
    await page.get_by_test_id("empty-mailbox-new").click()
    await page.get_by_test_id("input-name").fill("Returns")
    await page.get_by_test_id("input-protocol").select_option("pop3")
    await page.get_by_test_id("input-host").fill(dovecot.host)
    await page.get_by_test_id("input-security").select_option("none")
    await page.get_by_test_id("input-port").fill(str(dovecot.pop3_port))
    await page.get_by_test_id("input-username").fill(user.username)
    await page.get_by_test_id("input-password").fill(user.password)
    await page.get_by_test_id("input-after").select_option("move")
    await page.get_by_test_id("input-move_to").fill("Done")
    await page.get_by_test_id("mailbox-save").click()

    await expect(page.get_by_test_id("error-after")).to_have_text(
        "POP3 has no folders: processed messages can only be deleted.")
    await expect(page.get_by_test_id("input-host")).to_have_value(dovecot.host)
    await expect(page.get_by_test_id("input-username")).to_have_value(user.username)
    assert await mailboxes.mailboxes(workspace["id"]) == []

    await page.get_by_test_id("input-after").select_option("delete")
    await page.get_by_test_id("input-password").fill(user.password)
    await page.get_by_test_id("mailbox-save").click()
    await expect(page.get_by_test_id("mailbox-title")).to_have_text("Returns")
    await expect(page.get_by_test_id("mailbox-last-poll")).to_have_text("Not polled yet.")

    await page.get_by_test_id("mailbox-test").click()
    await expect(page.get_by_test_id("mailbox-test-result")).to_contain_text("Connection works.")
    await expect(page.get_by_test_id("mailbox-test-result")).to_contain_text("The inbox holds 1 message.")

    start_bounce_worker()
    await page.get_by_test_id("mailbox-poll").click()
    await expect(page.get_by_test_id("mailbox-poll-result")).to_contain_text(
        "Read 1 message: 1 new report queued for processing.")
    assert dovecot.count(user) == 0
    assert await _status_becomes(delivery["subscriber_id"], "bounced") == "bounced"

    await page.get_by_test_id("mailbox-see-log").click()
    await expect(page.get_by_test_id("bounce-email")).to_have_text("gone@example.org")
    await page.goto(f"/mailing/subscribers/{delivery['subscriber_id']}")
    await expect(page.get_by_test_id("subscriber-status")).to_have_text("bounced")
