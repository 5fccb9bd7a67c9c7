"""Bad input in the browser: the message shows next to the field, values stay, nothing is saved,
and an earlier success banner does not linger. Lists, custom fields, segments, suppression lists."""

from playwright.async_api import expect

from app.db.audience import ListField, MailingList
from app.db.segments import Segment
from app.db.suppression import SuppressionList
from app.services.custom_fields import add_field, delete_field
from tests.e2e.test_portals import sign_in
from tests.factories import make_list, make_user, make_workspace


async def test_list_form_shows_errors_and_clears_a_stale_banner(page):
    workspace = await make_workspace("Forms")
    user = await make_user(workspace, "owner")
    await sign_in(page, user["email"])

    await page.goto("/mailing/lists/new")
    await page.get_by_test_id("input-name").fill("Alpha")
    await page.get_by_test_id("list-save").click()
    await expect(page.get_by_test_id("flash")).to_contain_text("created")

    await page.get_by_test_id("list-edit").click()
    await page.get_by_test_id("input-name").fill("   ")
    await page.get_by_test_id("input-from_email").fill("someone@nodot")
    await page.get_by_test_id("list-save").click()

    await expect(page.get_by_test_id("error-name")).to_be_visible()
    await expect(page.get_by_test_id("error-from_email")).to_be_visible()
    await expect(page.get_by_test_id("input-from_email")).to_have_value("someone@nodot")
    await expect(page.get_by_test_id("flash")).to_have_count(0)
    names = await MailingList.select(MailingList.name).where(MailingList.workspace_id == workspace["id"])
    assert [row["name"] for row in names] == ["Alpha"]
    # The address is still the form's page, so reloading shows the form again rather than "405 Not allowed".
    assert page.url.endswith("/edit")
    await page.reload()
    await expect(page.get_by_test_id("list-form")).to_be_visible()


async def test_field_form_shows_errors_in_place(page):
    workspace = await make_workspace("Fields")
    user = await make_user(workspace, "owner")
    mailing_list = await make_list(workspace, "Newsletter")
    await add_field(workspace["id"], mailing_list["id"], {"label": "City", "kind": "text"})
    await sign_in(page, user["email"])

    await page.goto(f"/mailing/lists/{mailing_list['id']}")
    await page.get_by_test_id("field-label").fill("Town")
    await page.get_by_test_id("field-tag").fill("city")
    await page.get_by_test_id("field-required").check()
    await page.get_by_test_id("field-add").click()
    await expect(page.get_by_test_id("error-tag")).to_contain_text("merge tag")
    await expect(page.get_by_test_id("field-label")).to_have_value("Town")
    await expect(page.get_by_test_id("field-required")).to_be_checked()
    assert await ListField.count().where(ListField.list_id == mailing_list["id"]) == 1


async def test_an_htmx_action_on_something_gone_shows_a_toast(page):
    workspace = await make_workspace("Gone")
    user = await make_user(workspace, "owner")
    mailing_list = await make_list(workspace, "Newsletter")
    field = await add_field(workspace["id"], mailing_list["id"], {"label": "City", "kind": "text"})
    await sign_in(page, user["email"])

    await page.goto(f"/mailing/lists/{mailing_list['id']}")
    await delete_field(workspace["id"], field["id"])
    page.once("dialog", lambda dialog: dialog.accept())
    await page.get_by_test_id("field-delete-city").click()
    await expect(page.get_by_test_id("toast")).to_contain_text("no longer exists")


async def test_segment_save_without_a_name_keeps_the_rules(page):
    workspace = await make_workspace("Segments")
    user = await make_user(workspace, "owner")
    await make_list(workspace, "Newsletter")
    await sign_in(page, user["email"])

    await page.goto("/mailing/segments/new")
    await page.get_by_test_id("input-description").fill("Everyone in Paris")
    await page.get_by_test_id("segment-save").click()
    await expect(page.get_by_test_id("error-name")).to_be_visible()
    await expect(page.get_by_test_id("input-description")).to_have_value("Everyone in Paris")
    assert await Segment.count().where(Segment.workspace_id == workspace["id"]) == 0


async def test_suppression_forms_show_errors(page):
    workspace = await make_workspace("Suppress")
    user = await make_user(workspace, "owner")
    await sign_in(page, user["email"])

    await page.goto("/mailing/suppression")
    await page.get_by_test_id("suppression-name").fill("Blacklist")
    await page.get_by_test_id("suppression-create").click()
    await expect(page.get_by_test_id("error-name")).to_contain_text("blacklist")
    await expect(page.get_by_test_id("suppression-name")).to_have_value("Blacklist")
    assert await SuppressionList.count().where(SuppressionList.workspace_id == workspace["id"],
                                               SuppressionList.is_blacklist.eq(False)) == 0

    await page.get_by_test_id("suppression-name").fill("Competitors")
    await page.get_by_test_id("suppression-create").click()
    await expect(page.get_by_test_id("suppression-add")).to_be_visible()
    await page.get_by_test_id("suppression-add").click()
    await expect(page.get_by_test_id("error-entries")).to_contain_text("at least one line")
