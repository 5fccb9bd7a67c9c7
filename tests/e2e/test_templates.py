"""A marketer builds a template from the gallery, edits it, previews it on mobile and as a subscriber, and sends
tests; bad input shows its message next to the field, and nothing is saved or sent."""

import pytest
from playwright.async_api import expect

from app.db.content import EmailTemplate
from app.db.inbox import CapturedMessage
from app.services.templates import create_from_gallery
from tests.e2e.test_portals import sign_in
from tests.factories import make_list, make_subscriber, make_user, make_workspace


async def test_gallery_edit_preview_mobile_and_test_send(page):
    workspace = await make_workspace("Content Co")
    user = await make_user(workspace, "owner")
    await sign_in(page, user["email"])
    await page.get_by_test_id("portal-card-mailing").click()
    await page.get_by_test_id("nav-templates").click()
    await page.get_by_test_id("gallery-use-single-offer").click()
    await expect(page.get_by_test_id("template-title")).to_contain_text("Single offer")

    await page.get_by_test_id("input-name").fill("Black Friday")
    await page.get_by_test_id("input-subject").fill("Deals for {{ first_name }}")
    # CodeMirror owns the HTML textarea: type through its API, as a person typing would change it.
    await page.evaluate("""() => {
        const cm = document.querySelector('.CodeMirror').CodeMirror;
        cm.setValue(cm.getValue().replace('Claim the offer', 'Grab the deal<script>alert(1)</script>'));
    }""")
    await page.get_by_test_id("template-save").click()
    await expect(page.get_by_test_id("template-title")).to_contain_text("Black Friday")
    await expect(page.get_by_test_id("sanitizer-removed")).to_contain_text("script")

    preview = page.frame_locator('[data-testid="preview-frame"]')
    await expect(preview.get_by_text("Grab the deal")).to_be_visible()
    await page.get_by_test_id("preview-mobile").click()
    await expect(page.get_by_test_id("preview-frame")).to_have_css("width", "375px")
    await expect(page.get_by_test_id("checks")).to_contain_text("nsubscribe")

    await page.get_by_test_id("test-recipients").fill("qa@example.com")
    await page.get_by_test_id("test-send").click()
    await expect(page.get_by_test_id("test-result")).to_contain_text("Sent 1 test message")

    await page.get_by_test_id("nav-inbox").click()
    await page.get_by_test_id("inbox-row").first.get_by_role("link").click()
    await expect(page.get_by_test_id("message-subject")).to_contain_text("[TEST] Deals for Alex")
    await expect(page.frame_locator('[data-testid="message-html"]').get_by_text("Grab the deal")).to_be_visible()


async def _editor(page) -> tuple[dict, int]:
    """Signed in as the owner of a new workspace, on the editor of a template made from a layout."""
    workspace = await make_workspace()
    user = await make_user(workspace, "owner")
    template = await create_from_gallery(workspace["id"], "plain-letter", user["id"])
    await sign_in(page, user["email"])
    await page.goto(f"/mailing/templates/{template['id']}")
    await expect(page.locator(".CodeMirror")).to_have_count(1)
    return workspace, template["id"]


async def _type_into_editor(page, text: str) -> None:
    """Type at the end of the HTML, through CodeMirror, as a person does."""
    await page.locator(".CodeMirror").click()
    await page.keyboard.press("Control+End")
    await page.keyboard.type(text)


async def _version(template_id: int) -> int:
    return (await EmailTemplate.select(EmailTemplate.version).where(EmailTemplate.id == template_id).first())[
        "version"]


@pytest.mark.parametrize(("typed", "message"), [
    ("<p>{{ first_name </p>", "Template error"),
    ("{% for a in range(100000) %}{% for b in range(1500) %}{{ b }}{% endfor %}{% endfor %}",
     "This template takes too long to render"),
])
async def test_a_template_that_cannot_render_is_not_saved_and_says_why(page, typed: str, message: str):
    _, template_id = await _editor(page)
    await page.get_by_test_id("template-save").click()
    await expect(page.get_by_test_id("flash")).to_contain_text("Saved version 2")

    await _type_into_editor(page, typed)
    await page.get_by_test_id("template-save").click()
    await expect(page.get_by_test_id("error-html")).to_contain_text(message)
    # The stale "Saved" banner went with the new submission; what was typed is still in the editor, once.
    await expect(page.get_by_test_id("flash")).to_have_count(0)
    await expect(page.locator(".CodeMirror")).to_have_count(1)
    assert typed in await page.evaluate("() => document.querySelector('.CodeMirror').CodeMirror.getValue()")
    assert await _version(template_id) == 2


async def test_what_is_typed_in_the_editor_is_what_is_saved_after_previewing(page):
    _, template_id = await _editor(page)
    await page.get_by_test_id("preview-email").fill("nobody@example.com")
    await page.get_by_test_id("preview-as").click()
    await expect(page.get_by_test_id("preview-notice")).to_be_visible()
    await expect(page.locator(".CodeMirror")).to_have_count(1)
    await expect(page.get_by_test_id("input-html")).to_be_hidden()

    await _type_into_editor(page, "<p>Typed after the preview</p>")
    await page.get_by_test_id("template-save").click()
    await expect(page.get_by_test_id("flash")).to_contain_text("Saved version 2")
    stored = await EmailTemplate.select(EmailTemplate.html).where(EmailTemplate.id == template_id).first()
    assert "Typed after the preview" in stored["html"]
    await expect(page.locator(".CodeMirror")).to_have_count(1)


async def test_preview_as_a_chosen_subscriber_shows_their_data_and_says_when_it_cannot(page):
    workspace, _ = await _editor(page)
    await make_subscriber(await make_list(workspace), "zoe@example.com", {"first_name": "Zoë"})
    preview = page.frame_locator('[data-testid="preview-frame"]')
    await expect(preview.get_by_text("Alex")).to_be_visible()

    await page.get_by_test_id("preview-email").fill("zoe@example.com")
    await page.get_by_test_id("preview-as").click()
    await expect(page.get_by_test_id("preview-who")).to_contain_text("zoe@example.com")
    await expect(preview.get_by_text("Zoë")).to_be_visible()
    await expect(page.get_by_test_id("preview-notice")).to_have_count(0)

    await page.get_by_test_id("preview-mobile").click()
    await page.get_by_test_id("preview-email").fill("nobody@example.com")
    await page.get_by_test_id("preview-as").click()
    await expect(page.get_by_test_id("preview-notice")).to_contain_text("showing sample data")
    await expect(preview.get_by_text("Alex")).to_be_visible()
    await expect(page.get_by_test_id("preview-frame")).to_have_css("width", "375px")


async def test_bad_test_send_recipients_show_in_place_and_send_nothing(page):
    workspace, _ = await _editor(page)
    await make_subscriber(await make_list(workspace), "zoe@example.com", {"first_name": "Zoë"})
    await page.get_by_test_id("test-recipients").fill("qa@example.com")
    await page.get_by_test_id("test-subscriber").fill("zoe@example.com")
    await page.get_by_test_id("test-send").click()
    await expect(page.get_by_test_id("test-result")).to_contain_text("Sent 1 test message")

    await page.get_by_test_id("test-recipients").fill("qa@, boss")
    await page.get_by_test_id("test-send").click()
    await expect(page.get_by_test_id("error-recipients")).to_be_visible()
    await expect(page.get_by_test_id("test-recipients")).to_have_value("qa@, boss")
    await expect(page.get_by_test_id("test-result")).not_to_contain_text("Sent")

    await page.get_by_test_id("test-recipients").fill("qa@example.com")
    await page.get_by_test_id("test-subscriber").fill("nobody@example.com")
    await page.get_by_test_id("test-send").click()
    await expect(page.get_by_test_id("error-subscriber")).to_contain_text("No subscriber nobody@example.com")
    rows = await CapturedMessage.select(CapturedMessage.subject).where(
        CapturedMessage.workspace_id == workspace["id"])
    assert len(rows) == 1 and "Zoë" in rows[0]["subject"]


async def test_the_keyboard_leaves_the_html_editor_with_tab(page):
    await _editor(page)
    await page.locator(".CodeMirror textarea").focus()
    await page.keyboard.press("Tab")
    focused = await page.evaluate("document.activeElement.closest('.CodeMirror') === null")
    assert focused, "Tab stayed inside the HTML editor"
