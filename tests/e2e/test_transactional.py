"""A marketer opens Mailing → Transactional: the empty state says how to start, a bad date is refused next to its
field with the log left as it was, a search finds one address, and its row opens the message: its merged subject,
sender, tags, a sandboxed preview and its events."""

from __future__ import annotations

from playwright.async_api import expect

from app.services import transactional
from app.services.transactional import ContentInput, RecipientInput, Submission
from tests.e2e.test_portals import sign_in
from tests.factories import make_user, make_verified_domain, make_workspace


class NoQueue:
    """Messages stay queued: the page is about the log, not the sending."""

    def send_batch(self, workspace_id: int, campaign_id: int, first_id: int, last_id: int,
                   delay_seconds: float = 0.0) -> None:
        return None


async def test_search_the_log_refuse_a_bad_date_and_open_a_message(page) -> None:
    workspace = await make_workspace("Shop Receipts")
    owner = await make_user(workspace, "owner")
    await sign_in(page, owner["email"])
    await page.goto("/mailing/transactional")
    await expect(page.get_by_test_id("empty-state")).to_contain_text("No transactional messages yet.")
    await expect(page.get_by_test_id("transactional-empty-keys")).to_have_attribute("href", "/settings/api-keys")

    await make_verified_domain(workspace["id"], "mail.example.com")
    await transactional.accept_batch(
        workspace["id"], ContentInput(subject="Receipt {{ order }}", html="<p>Thanks for order {{ order }}</p>",
                                      from_email="receipts@mail.example.com"),
        [RecipientInput(f"buyer{i}@example.com", {"order": f"O-{i}"}) for i in range(3)],
        Submission(api_key_id=None, tags=["receipt"]), NoQueue())
    await page.goto("/mailing/transactional")
    await expect(page.get_by_test_id("transactional-row")).to_have_count(3)

    await page.set_viewport_size({"width": 1400, "height": 900})
    email_box = await page.get_by_test_id("transactional-email").bounding_box()
    until_box = await page.get_by_test_id("transactional-until").bounding_box()
    assert email_box and until_box and abs(email_box["y"] - until_box["y"]) < 10  # one row of filters
    await expect(page.get_by_test_id("transactional-row-subject").first).to_contain_text("Receipt O-")

    await page.get_by_test_id("transactional-since").fill("2026-02-01")
    await page.get_by_test_id("transactional-until").fill("2026-01-01")
    await page.get_by_test_id("transactional-search").click()
    await expect(page.get_by_test_id("error-until")).to_have_text("The end date is before the start date.")
    await expect(page.get_by_test_id("transactional-since")).to_have_value("2026-02-01")
    await expect(page.get_by_test_id("transactional-row")).to_have_count(0)

    await page.get_by_test_id("transactional-since").fill("")
    await page.get_by_test_id("transactional-until").fill("")
    await page.get_by_test_id("transactional-email").fill("buyer1@example.com")
    await page.get_by_test_id("transactional-search").click()
    await expect(page.get_by_test_id("error-until")).to_have_count(0)
    await expect(page.get_by_test_id("transactional-row")).to_have_count(1)
    await expect(page.get_by_test_id("transactional-row-email")).to_have_text("buyer1@example.com")

    # The whole row opens the message: a click on its subject lands on the message's page.
    subject = await page.get_by_test_id("transactional-row-subject").bounding_box()
    assert subject
    await page.mouse.click(subject["x"] + subject["width"] / 2, subject["y"] + subject["height"] / 2)
    await expect(page.get_by_test_id("transactional-email")).to_have_text("buyer1@example.com")
    await expect(page.get_by_test_id("transactional-subject")).to_have_text("Receipt O-1")
    await expect(page.get_by_test_id("transactional-tags")).to_have_text("receipt")
    await expect(page.get_by_test_id("transactional-preview")).to_have_attribute("sandbox", "")
    await expect(page.get_by_test_id("transactional-event")).to_have_count(1)
    await expect(page.get_by_test_id("transactional-status")).to_contain_text("queued")

