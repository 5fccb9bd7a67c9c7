"""An admin sets the sub-id names and offer domains, is told next to each field what is wrong with bad input
(values kept, nothing stored), saves good input, and makes the postback URL, whose key is shown only once."""

from playwright.async_api import expect

from app.db.tracking import TrackingSettings
from app.services.tracking.offers import workspace_settings
from tests.e2e.test_portals import sign_in
from tests.factories import make_user, make_workspace


async def test_bad_input_is_refused_next_to_its_field_then_good_input_is_saved(page):
    workspace = await make_workspace("Affiliates")
    user = await make_user(workspace, "admin")
    await sign_in(page, user["email"])
    await page.get_by_test_id("nav-tracking").click()
    await expect(page.get_by_test_id("postback-empty")).to_contain_text("No postback URL yet")

    await page.get_by_test_id("input-subscriber_param").fill("sub1")
    await page.get_by_test_id("input-delivery_param").fill("")
    await page.get_by_test_id("input-offer_domains").fill("offers.example.net\nnot a domain!")
    await page.get_by_test_id("tracking-save").click()

    await expect(page.get_by_test_id("error-subscriber_param")).to_contain_text("already names the campaign")
    await expect(page.get_by_test_id("error-delivery_param")).to_contain_text("attributed by the delivery")
    await expect(page.get_by_test_id("error-offer_domains")).to_contain_text("“not a domain!” is not a domain name")
    await expect(page.get_by_test_id("input-subscriber_param")).to_have_value("sub1")
    await expect(page.get_by_test_id("input-offer_domains")).to_have_value("offers.example.net\nnot a domain!")
    assert await TrackingSettings.count() == 0

    await page.get_by_test_id("input-subscriber_param").fill("sub2")
    await page.get_by_test_id("input-delivery_param").fill("sub4")
    await page.get_by_test_id("input-offer_domains").fill("Offers.Example.NET")
    await page.get_by_test_id("tracking-save").click()

    await expect(page.get_by_test_id("tracking-notice")).to_have_text("Tracking settings saved.")
    await expect(page.get_by_test_id("error-delivery_param")).to_have_count(0)
    await expect(page.get_by_test_id("input-offer_domains")).to_have_value("offers.example.net")
    settings = await workspace_settings(workspace["id"])
    assert (settings["delivery_param"], settings["offer_domains"]) == ("sub4", ["offers.example.net"])


async def test_the_postback_url_is_shown_once_and_replacing_it_asks_first(page):
    workspace = await make_workspace("Postbacks")
    user = await make_user(workspace, "owner")
    await sign_in(page, user["email"])
    await page.goto("/settings/tracking")

    await page.get_by_test_id("postback-rotate").click()
    new_url = page.get_by_test_id("postback-url-new")
    await expect(new_url).to_contain_text("/postback?key=")
    first = await new_url.input_value()

    await page.reload()
    await expect(page.get_by_test_id("postback-url")).to_contain_text("transaction_id={transaction_id}")
    assert first.split("key=")[1].split("&")[0] not in await page.get_by_test_id("postback-url").input_value()

    page.once("dialog", lambda dialog: dialog.dismiss())
    await page.get_by_test_id("postback-rotate").click()
    await expect(page.get_by_test_id("postback-url-new")).to_have_count(0)
    [row] = await TrackingSettings.select()
    assert first.split("key=")[1].split("&")[0].endswith(row["postback_secret_hint"])

    page.once("dialog", lambda dialog: dialog.accept())
    await page.get_by_test_id("postback-rotate").click()
    await expect(page.get_by_test_id("postback-url-new")).not_to_have_value(first)
    await expect(page.get_by_test_id("postback-new-notice")).to_contain_text("shown only this once")
