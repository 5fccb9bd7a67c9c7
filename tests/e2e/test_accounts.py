"""Account forms in the browser: bad input shows its message next to the field and changes nothing; a
rate-limited form says so on the page."""

from playwright.async_api import expect

from app.db.accounts import Invite, PasswordReset
from app.services import public_limits
from app.services.accounts import authenticate
from app.services.password_resets import start_password_reset
from tests.e2e.test_portals import sign_in
from tests.factories import PASSWORD, make_user, make_workspace


async def test_team_invite_with_a_bad_address_shows_the_message_next_to_the_field(page):
    workspace = await make_workspace("Inviting")
    owner = await make_user(workspace, "owner")
    await sign_in(page, owner["email"])
    await page.get_by_test_id("nav-team").click()

    await page.get_by_test_id("invite-email").fill("someone@nodot")
    await page.get_by_test_id("invite-role").select_option("admin")
    await page.get_by_test_id("invite-send").click()

    await expect(page.get_by_test_id("error-email")).to_be_visible()
    await expect(page.get_by_test_id("error-email")).to_contain_text("period")
    await expect(page.get_by_test_id("invite-email")).to_have_value("someone@nodot")
    await expect(page.get_by_test_id("invite-role")).to_have_value("admin")
    await expect(page.get_by_test_id("no-invites")).to_be_visible()
    assert await Invite.count() == 0


async def test_reset_form_shows_a_too_short_password_next_to_the_field(page, base_url):
    workspace = await make_workspace()
    user = await make_user(workspace)
    token = await start_password_reset(user["email"], base_url, 3600)

    await page.goto(f"/password/reset/{token}")
    await page.get_by_test_id("reset-password").fill("short")
    await page.get_by_test_id("reset-confirm").fill("short")
    # The browser's own minlength check would stop the form before the server sees it.
    await page.get_by_test_id("reset-form").evaluate("form => form.noValidate = true")
    await page.get_by_test_id("reset-submit").click()

    await expect(page.get_by_test_id("error-password")).to_contain_text("at least 10 characters")
    await expect(page.get_by_test_id("reset-form")).to_be_visible()
    assert await PasswordReset.count().where(PasswordReset.used_at.is_not_null()) == 0
    assert await authenticate(user["email"], PASSWORD) is not None


async def test_password_change_form_shows_its_messages_next_to_the_fields(page):
    workspace = await make_workspace()
    user = await make_user(workspace)
    await sign_in(page, user["email"])
    await page.get_by_test_id("nav-team").click()
    await page.get_by_test_id("change-password").click()

    await page.get_by_test_id("current-password").fill("not my password")
    await page.get_by_test_id("reset-password").fill("short")
    await page.get_by_test_id("reset-confirm").fill("different")
    await page.get_by_test_id("password-form").evaluate("form => form.noValidate = true")
    await page.get_by_test_id("password-submit").click()

    await expect(page.get_by_test_id("error-current_password")).to_be_visible()
    await expect(page.get_by_test_id("error-password")).to_contain_text("at least 10 characters")
    await expect(page.get_by_test_id("error-confirm")).to_contain_text("differ")
    assert await authenticate(user["email"], PASSWORD) is not None


async def test_rate_limited_forgot_password_form_shows_its_message(page):
    workspace = await make_workspace()
    user = await make_user(workspace)
    for _ in range(public_limits.FORGOT_PASSWORD.per_address.limit):
        await page.goto("/password/forgot")
        await page.get_by_test_id("input-email").fill(user["email"])
        await page.get_by_test_id("forgot-submit").click()
        await expect(page.get_by_test_id("reset-sent")).to_be_visible()

    await page.goto("/password/forgot")
    await page.get_by_test_id("input-email").fill(user["email"])
    async with page.expect_response(lambda response: response.url.endswith("/password/forgot")) as answer:
        await page.get_by_test_id("forgot-submit").click()

    assert (await answer.value).status == 429
    await expect(page.get_by_test_id("form-error")).to_contain_text("Too many attempts")
    await expect(page.get_by_test_id("input-email")).to_have_value(user["email"])
    assert await PasswordReset.count() == public_limits.FORGOT_PASSWORD.per_address.limit
