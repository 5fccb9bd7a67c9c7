"""A marketer's first minutes: sign in, pick a portal, switch, sign out, come back; a live feed."""

from playwright.async_api import expect

from app.redis_client import get_redis
from app.services.audit import SYSTEM, record
from tests.factories import PASSWORD, make_user, make_workspace


async def sign_in(page, email: str, password: str = PASSWORD) -> None:
    await page.goto("/login")
    await page.get_by_test_id("login-email").fill(email)
    await page.get_by_test_id("login-password").fill(password)
    await page.get_by_test_id("login-submit").click()
    await expect(page.get_by_test_id("portal-cards")).to_be_visible()


async def test_pick_portal_switch_sign_out_and_last_portal_is_offered_first(page):
    workspace = await make_workspace("E2E Workspace")
    user = await make_user(workspace, "owner")
    await sign_in(page, user["email"])

    await page.get_by_test_id("portal-card-mailing").click()
    await expect(page.get_by_test_id("portal-title")).to_have_text("Mailing")
    await page.get_by_test_id("nav-segments").click()
    await expect(page.get_by_test_id("empty-state")).to_contain_text("No segments yet")

    await page.get_by_test_id("switch-to-analytics").click()
    await expect(page.get_by_test_id("portal-title")).to_have_text("Analytics")
    await expect(page.get_by_test_id("app")).to_have_attribute("data-portal", "analytics")

    await page.get_by_test_id("logout").click()
    await expect(page.get_by_test_id("login-form")).to_be_visible()
    await expect(page.get_by_test_id("flash")).to_contain_text("signed out")

    await sign_in(page, user["email"])
    first_card = page.get_by_test_id("portal-cards").locator("a").first
    await expect(first_card).to_have_attribute("data-testid", "portal-card-analytics")
    await expect(page.get_by_test_id("last-used")).to_be_visible()


async def test_activity_feed_updates_without_reload(page):
    workspace = await make_workspace("Live")
    user = await make_user(workspace, "owner")
    await sign_in(page, user["email"])
    await page.get_by_test_id("portal-card-mailing").click()
    await expect(page.get_by_test_id("portal-title")).to_have_text("Mailing")
    await page.evaluate("window.__notReloaded = true")

    # The page opens its EventSource on its own schedule (and the landing page's may still be closing),
    # so publish until the event shows: what is pinned down is that it arrives without a reload.
    redis = get_redis()
    feed = page.get_by_test_id("activity-feed")
    for _ in range(20):
        await record(redis, workspace["id"], SYSTEM, "campaign.sent", "campaign", 99)
        try:
            await expect(feed).to_contain_text("campaign.sent", timeout=1000)
            break
        except AssertionError:
            continue
    await expect(feed).to_contain_text("campaign.sent")
    assert await page.evaluate("window.__notReloaded === true")


async def test_invitation_lands_in_the_development_inbox(page):
    workspace = await make_workspace("Inbox Co")
    user = await make_user(workspace, "owner")
    await sign_in(page, user["email"])
    await page.get_by_test_id("nav-team").click()
    await page.get_by_test_id("invite-email").fill("teammate@example.com")
    await page.get_by_test_id("invite-role").select_option("marketer")
    await page.get_by_test_id("invite-send").click()
    await expect(page.get_by_test_id("pending-invites")).to_contain_text("teammate@example.com")

    await page.get_by_test_id("switch-to-mailing").click()
    await page.get_by_test_id("nav-inbox").click()
    await page.get_by_test_id("inbox-row").first.get_by_role("link").click()
    await expect(page.get_by_test_id("message-subject")).to_contain_text("invited to Inbox Co")
    frame = page.frame_locator('[data-testid="message-html"]')
    await expect(frame.get_by_text("Accept the invitation")).to_be_visible()
