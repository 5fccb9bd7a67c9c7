"""A marketer builds a template from the gallery, edits it, previews it on mobile and sends a test."""

from playwright.async_api import expect

from tests.e2e.test_portals import sign_in
from tests.factories import make_user, make_workspace


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
