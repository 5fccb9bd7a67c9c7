"""Offer links: the workspace's sub-id parameters (campaign, subscriber, delivery) appended at render time to
links on its offer domains or marked data-offer, signed so a recipient cannot re-attribute them, and
brought back by the network's postback; the settings that name them refuse bad input and store nothing."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from jinja2 import Environment

from app.db.audit import AuditEntry
from app.db.campaigns import Delivery
from app.db.inbox import CapturedMessage
from app.db.tracking import TrackingSettings
from app.services import campaigns
from app.services.forms import FormError
from app.services.inbox import captured_message, without_open_pixel
from app.services.rendering.links import rewrite_links, tracking_context
from app.services.sending import Adapters
from app.services.tracking.conversions import rotate_postback_secret
from app.services.tracking.offers import OfferLinks, parsed_domains, save_settings, workspace_settings
from app.services.tracking.tokens import tracking_keys
from app.services.tracking.urls import DeliveryTracker
from app.settings import get_settings
from tests.factories import login, make_list, make_subscribers, make_user, make_workspace, post_form, signed_in_client
from tests.integration.campaigns.helpers import PERSON, LocalQueue, ready_campaign
from tests.integration.tracking.helpers import BASE, hrefs, path_of, sent_campaign
from tests.integration.tracking.offer_helpers import OFFER_HTML, conversions, offer_message, postback

SETTINGS = {"campaign_param": "sub1", "subscriber_param": "sub2", "delivery_param": "sub3", "currency": "USD",
            "offer_domains": "offers.example.net"}


def _query(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query)


async def _offer_campaign(**settings: str):
    sent = await sent_campaign(recipients=1, html=OFFER_HTML)
    await save_settings(sent.workspace["id"], {**SETTINGS, **settings})
    return sent


async def test_links_on_offer_domains_carry_the_recipients_sub_ids(client) -> None:
    sent = await _offer_campaign()
    delivery = sent.deliveries[0]
    html = await offer_message(sent, delivery, {"offer_url": "https://www.offers.example.net/o?x=1"})
    spring, fixed_offer, merged_offer, untracked = hrefs(html)

    assert "?u=" not in spring and spring.startswith(f"{BASE}/c/")
    assert untracked == "https://go.offers.example.net/skip"
    expected = {"sub1": [str(sent.campaign["id"])], "sub2": [str(delivery["subscriber_id"])],
                "sub3": [str(delivery["id"])]}
    utm = {"utm_source": ["ignite"], "utm_campaign": ["spring"]}
    for link, rest in ((fixed_offer, {"oid": ["7"], **utm}), (merged_offer, {"x": ["1"]})):
        response = await client.get(path_of(link))
        assert response.status_code == 302
        # The template's own sub1=newsletter gives way: attribution depends on the workspace's names.
        assert _query(response.headers["location"]) == {**rest, **expected}
    assert urlsplit((await client.get(path_of(fixed_offer))).headers["location"]).netloc == "go.offers.example.net"


async def test_a_recipient_cannot_move_the_click_to_another_delivery(client) -> None:
    sent = await _offer_campaign()
    delivery = sent.deliveries[0]
    fixed_offer = hrefs(await offer_message(sent, delivery))[1]
    forged = fixed_offer.replace(f"sub3%3D{delivery['id']}", f"sub3%3D{delivery['id'] + 1}")

    assert forged != fixed_offer
    assert (await client.get(path_of(forged))).status_code == 404


async def test_a_conversion_of_a_clicked_offer_link_is_attributed_to_its_delivery(client) -> None:
    sent = await _offer_campaign(campaign_param="aff_sub", subscriber_param="", delivery_param="aff_sub3")
    delivery = sent.deliveries[0]
    fixed_offer = hrefs(await offer_message(sent, delivery))[1]
    landing = _query((await client.get(path_of(fixed_offer))).headers["location"])
    assert "sub2" not in landing and "aff_sub" in landing
    key = await rotate_postback_secret(sent.workspace["id"])

    # The network fills its postback's macros with the sub-ids the click brought.
    response = await postback(client, key=key, transaction_id="tx-offer", aff_sub=landing["aff_sub"][0],
                              aff_sub3=landing["aff_sub3"][0], payout="9.90")

    assert response.status_code == 200, response.text
    [stored] = await conversions()
    assert (stored["delivery_id"], stored["campaign_id"], stored["subscriber_id"]) == (
        delivery["id"], sent.campaign["id"], delivery["subscriber_id"])


async def test_links_marked_data_offer_carry_sub_ids_and_lose_the_marker() -> None:
    markup, links = rewrite_links('<a href="https://shop.example.com/p?a=1" data-offer>Shop</a>'
                                  '<a href="https://shop.example.com/q">Plain</a>', utm={}, track=True)
    tracker = DeliveryTracker(BASE, tracking_keys(get_settings()), 1, 12, 3, offers=OfferLinks())
    context = {**tracking_context(tracker, links, "55"), "subscriber": {"id": 9}}

    offer, plain = hrefs(Environment(autoescape=True).from_string(markup).render(context))

    assert "data-offer" not in markup
    assert [link.offer for link in links] == [True, False]
    assert parse_qs(urlsplit(offer).query)["u"] == ["https://shop.example.com/p?a=1&sub1=12&sub2=9&sub3=55"]
    assert plain == f"{BASE}/c/{tracker.token('55')}/1"


@pytest.mark.parametrize(("typed", "expected"), [
    ("Offers.Example.NET", ["offers.example.net"]),
    ("https://track.example.com/click?x=1\n*.go.example.org, go.example.org", ["track.example.com", "go.example.org"]),
    ("bücher.example", ["xn--bcher-kva.example"]),
    ("", []),
])
def test_offer_domains_are_read_as_typed(typed: str, expected: list[str]) -> None:
    assert parsed_domains(typed) == expected


@pytest.mark.parametrize(("change", "field"), [
    ({"delivery_param": ""}, "delivery_param"),
    ({"campaign_param": "1sub"}, "campaign_param"),
    ({"campaign_param": "sub 1"}, "campaign_param"),
    ({"subscriber_param": "sub1"}, "subscriber_param"),
    ({"delivery_param": "transaction_id"}, "delivery_param"),
    ({"campaign_param": "utm_source"}, "campaign_param"),
    ({"offer_domains": "offers.example.net\nnot a domain!"}, "offer_domains"),
    ({"offer_domains": "localhost"}, "offer_domains"),
    ({"currency": "dollars"}, "currency"),
])
async def test_bad_settings_are_refused_and_nothing_is_stored(change: dict, field: str) -> None:
    workspace = await make_workspace()

    with pytest.raises(FormError) as refused:
        await save_settings(workspace["id"], {**SETTINGS, **change})

    assert field in refused.value.errors
    assert await TrackingSettings.count() == 0


async def test_the_settings_page_saves_and_refuses_with_messages(client, redis) -> None:
    workspace, _ = await signed_in_client(client, role="admin")

    shown = await client.get("/settings/tracking")
    bad = await post_form(client, "/settings/tracking", {**SETTINGS, "delivery_param": "", "currency": "usd"})
    good = await post_form(client, "/settings/tracking", {**SETTINGS, "offer_domains": "https://Go.Example.com/x"})

    assert shown.status_code == 200 and 'data-testid="postback-empty"' in shown.text
    assert bad.status_code == 422
    assert 'data-testid="error-delivery_param"' in bad.text and 'value="usd"' in bad.text
    assert good.status_code == 200 and 'data-testid="tracking-notice"' in good.text
    settings = await workspace_settings(workspace["id"])
    assert (settings["offer_domains"], settings["currency"]) == (["go.example.com"], "USD")
    assert await AuditEntry.count().where(AuditEntry.action == "tracking.settings_changed") == 1


async def test_the_postback_url_is_shown_once_then_only_its_hint(client) -> None:
    await signed_in_client(client, role="owner")

    made = await post_form(client, "/settings/tracking/postback-key")
    later = await client.get("/settings/tracking")

    assert made.status_code == 200
    [row] = await TrackingSettings.select()
    url = made.text.split('data-testid="postback-url-new">')[1].split("<")[0]
    key = parse_qs(urlsplit(url.replace("&amp;", "&")).query)["key"][0]
    assert key.endswith(row["postback_secret_hint"]) and len(key) >= 43
    assert "sub3={sub3}" in url and "transaction_id={transaction_id}" in url
    assert key not in later.text and 'data-testid="postback-url"' in later.text
    assert await AuditEntry.count().where(AuditEntry.action == "tracking.postback_key_rotated") == 1


@pytest.mark.parametrize("role", ["marketer", "analyst"])
async def test_only_admins_and_owners_see_or_change_tracking_settings(client, role: str) -> None:
    workspace = await make_workspace()
    user = await make_user(workspace, role)
    await login(client, user["email"])

    assert (await client.get("/settings/tracking")).status_code == 403
    assert (await post_form(client, "/settings/tracking", SETTINGS)).status_code == 403
    assert (await post_form(client, "/settings/tracking/postback-key")).status_code == 403
    assert await TrackingSettings.count() == 0


async def test_a_campaign_sent_through_the_engine_carries_the_workspaces_sub_ids(client, redis) -> None:
    workspace = await make_workspace()
    newsletter = await make_list(workspace, "Newsletter")
    [person] = await make_subscribers(newsletter, 1)
    await save_settings(workspace["id"], {"campaign_param": "sub1", "subscriber_param": "sub2",
                                          "delivery_param": "sub3", "currency": "USD",
                                          "offer_domains": "offers.example.net"})
    html = ('<p><a href="https://offers.example.net/o?oid=7">Offer</a> <a href="https://shop.example.com/">Shop</a>'
            ' <a href="{{ unsubscribe_url }}">Unsubscribe</a></p>')
    campaign = await ready_campaign(workspace["id"], [newsletter["id"]], html=html)
    queue, adapters = LocalQueue(), Adapters()
    await campaigns.launch(redis, queue, workspace["id"], campaign["id"], PERSON)
    await queue.drain(redis, adapters)
    await adapters.aclose()
    row = await CapturedMessage.select(CapturedMessage.id).where(CapturedMessage.rcpt_to == person["email"]).first()
    html = (await captured_message(workspace["id"], row["id"])).html
    offer, shop, _ = hrefs(html)
    # The development inbox shows it without the open pixel: looking at it there is not an open.
    assert "/o/" in html and "/o/" not in without_open_pixel(html)
    assert hrefs(without_open_pixel(html)) == [offer, shop, _]
    [delivery] = await Delivery.select().where(Delivery.campaign_id == campaign["id"])
    assert "?u=" not in shop
    location = (await client.get(path_of(offer))).headers["location"]
    assert _query(location) == {"oid": ["7"], "sub1": [str(campaign["id"])], "sub2": [str(person["id"])],
                                "sub3": [str(delivery["id"])]}
