"""A recipient in the browser: the unsubscribe page (this list), the preference centre refusing a bad value
next to its field and keeping what was typed, the web version and its tracked link, bad links, and a
double opt-in confirmation that only its button confirms."""

import re
from urllib.parse import urlsplit

from playwright.async_api import expect

from app.db.audience import Subscriber
from app.db.inbox import CapturedMessage
from app.services.custom_fields import add_field
from app.services.inbox import captured_message
from app.services.subscriptions import public_form_url
from app.settings import get_settings
from tests.factories import make_list, make_workspace
from tests.integration.tracking.recipients_helpers import list_name, statuses, two_list_campaign

HTML = ("<html><body><p>Hello {{ first_name | default('there') }}</p>"
        '<p><a href="https://shop.example.com/spring">Spring picks</a></p>'
        '<p><a href="{{ unsubscribe_url }}">Unsubscribe</a></p></body></html>')


async def _fields(subscriber_id: int) -> dict:
    row = await Subscriber.select(Subscriber.fields).where(Subscriber.id == subscriber_id).output(
        load_json=True).first()
    return row["fields"]


async def test_unsubscribe_from_this_list_then_fix_preferences_after_a_refused_value(page):
    setup = await two_list_campaign(recipients=1, phone="+44 20 7946 0000", score=7)
    campaign_list = setup.sent.campaign["list_ids"][0]
    await add_field(setup.workspace_id, campaign_list, {"label": "Phone", "kind": "phone"})
    await add_field(setup.workspace_id, campaign_list, {"label": "Score", "kind": "number", "visible": ""})
    delivery = setup.sent.deliveries[0]
    name = await list_name(setup.sent.campaign)
    weekly = setup.other_list["id"]

    await page.goto(setup.unsubscribe_path(delivery))
    await expect(page.get_by_test_id("unsubscribe-email")).to_have_text(delivery["email"])
    assert set((await statuses(setup.workspace_id, delivery["email"])).values()) == {"confirmed"}
    await page.get_by_test_id("unsubscribe-list").click()
    await expect(page.get_by_test_id("unsubscribed-from")).to_contain_text(name)
    assert await statuses(setup.workspace_id, delivery["email"]) == {campaign_list: "unsubscribed",
                                                                    weekly: "confirmed"}

    await page.get_by_test_id("manage-preferences").click()
    await expect(page.get_by_test_id(f"preference-list-{campaign_list}")).not_to_be_checked()
    await expect(page.get_by_test_id(f"preference-list-{weekly}")).to_be_checked()
    await expect(page.get_by_test_id("input-field_score")).to_have_count(0)
    await page.get_by_test_id(f"preference-list-{weekly}").uncheck()
    await page.get_by_test_id("input-field_phone").fill("call me maybe")
    await page.get_by_test_id("preferences-save").click()

    await expect(page.get_by_test_id("error-field_phone")).to_have_text("Enter a phone number.")
    await expect(page.get_by_test_id("input-field_phone")).to_have_value("call me maybe")
    await expect(page.get_by_test_id(f"preference-list-{weekly}")).not_to_be_checked()
    assert await statuses(setup.workspace_id, delivery["email"]) == {campaign_list: "unsubscribed",
                                                                    weekly: "confirmed"}
    assert await _fields(delivery["subscriber_id"]) == {"phone": "+44 20 7946 0000", "score": 7}

    await page.get_by_test_id("input-field_phone").fill("+44 20 7946 0999")
    await page.get_by_test_id(f"preference-list-{campaign_list}").check()
    await page.get_by_test_id("preferences-save").click()

    await expect(page.get_by_test_id("preferences-saved")).to_contain_text(f"You rejoined {name}")
    await expect(page.get_by_test_id("preferences-saved")).to_contain_text("You left Weekly deals")
    assert await statuses(setup.workspace_id, delivery["email"]) == {campaign_list: "confirmed",
                                                                    weekly: "unsubscribed"}
    assert await _fields(delivery["subscriber_id"]) == {"phone": "+44 20 7946 0999", "score": 7}


async def test_the_web_version_shows_the_message_and_its_links_are_tracked(page):
    setup = await two_list_campaign(recipients=1, html=HTML, first_name="Zoë")
    delivery = setup.sent.deliveries[0]
    await page.route("https://shop.example.com/**", lambda route: route.fulfill(
        status=200, content_type="text/html", body="<p data-testid='shop'>The shop</p>"))

    await page.goto(setup.web_version_path(delivery))
    await expect(page.get_by_text("Hello Zoë")).to_be_visible()
    link = page.get_by_role("link", name="Spring picks")
    await expect(link).to_have_attribute("href", re.compile(r"/c/[A-Za-z0-9_-]+/0$"))
    await link.click()

    await expect(page.get_by_test_id("shop")).to_be_visible()
    assert page.url.startswith("https://shop.example.com/spring")


async def test_bad_links_show_a_plain_not_found_page_and_change_nothing(page):
    setup = await two_list_campaign(recipients=1)
    delivery = setup.sent.deliveries[0]
    cut = setup.unsubscribe_path(delivery)[:-4]

    answer = await page.goto(cut)
    assert answer.status == 404
    await expect(page.get_by_test_id("public-message")).to_contain_text("This link is not valid")
    answer = await page.goto(setup.web_version_path(delivery)[:-4])
    assert answer.status == 404
    assert set((await statuses(setup.workspace_id, delivery["email"])).values()) == {"confirmed"}


async def test_a_confirmation_link_shows_a_button_and_only_the_button_confirms(page):
    workspace = await make_workspace()
    mailing_list = await make_list(workspace, "Double", opt_in="double")
    await page.goto(urlsplit(public_form_url(get_settings(), mailing_list["id"])).path)
    await page.get_by_test_id("input-email").fill("reader@example.com")
    await page.get_by_test_id("public-subscribe").click()
    await expect(page.get_by_test_id("public-message")).to_contain_text("Check your inbox")
    captured = await CapturedMessage.select(CapturedMessage.id).first()
    link = re.search(r"/s/confirm/\S+", (await captured_message(workspace["id"], captured["id"])).text).group(0)

    await page.goto(link)
    await expect(page.get_by_test_id("confirm-subscription")).to_be_visible()
    assert (await Subscriber.select(Subscriber.status).first())["status"] == "unconfirmed"
    await page.get_by_test_id("confirm-subscription").click()

    await expect(page.get_by_test_id("subscription-confirmed")).to_be_visible()
    assert (await Subscriber.select(Subscriber.status).first())["status"] == "confirmed"
