"""Unsubscribe links that name the delivery: never on a GET, RFC 8058 one-click with and without its body,
this list or every list, the event and the campaign's figure counted once per person, bad links refused."""

from __future__ import annotations

import json

import pytest

from app.db.audience import SubscriberStatusChange
from app.services.subscriptions import unsubscribe_url
from app.services.tokens import signed
from app.services.tracking.figures import campaign_figures
from app.services.tracking.tokens import DeliveryRef, delivery_token, tracking_keys, url_signature
from app.settings import get_settings
from tests.factories import make_list, make_subscriber, make_workspace
from tests.integration.tracking.helpers import BASE
from tests.integration.tracking.recipients_helpers import (
    list_name,
    statuses,
    two_list_campaign,
    unsubscribe_events,
)

ONE_CLICK = {"List-Unsubscribe": "One-Click"}


async def test_the_unsubscribe_and_web_version_links_carry_the_message_delivery_token():
    setup = await two_list_campaign(recipients=1)
    delivery = setup.sent.deliveries[0]
    campaign = setup.sent.campaign
    token = delivery_token(tracking_keys(get_settings()), DeliveryRef(
        campaign["workspace_id"], campaign["id"], campaign["snapshot_version"], 0, delivery["id"]))
    assert setup.unsubscribe_path(delivery) == f"/u/{token}"
    assert setup.web_version_path(delivery) == f"/v/{token}"
    assert setup.urls().unsubscribe_url(str(delivery["id"])) == f"{BASE}/u/{token}"


async def test_a_get_of_the_unsubscribe_link_changes_nothing(client):
    setup = await two_list_campaign(recipients=1)
    delivery = setup.sent.deliveries[0]
    before = await statuses(setup.workspace_id, delivery["email"])

    page = await client.get(setup.unsubscribe_path(delivery))

    assert page.status_code == 200
    assert 'data-testid="unsubscribe-list"' in page.text and 'data-testid="unsubscribe-all"' in page.text
    assert f"Unsubscribe from {await list_name(setup.sent.campaign)}<" in page.text
    assert "Unsubscribe from all 2 lists" in page.text
    assert await statuses(setup.workspace_id, delivery["email"]) == before
    assert set(before.values()) == {"confirmed"}
    assert await unsubscribe_events(setup.campaign_id) == []


async def test_one_click_unsubscribes_from_the_message_list_with_no_page_and_no_cookie(client, redis):
    setup = await two_list_campaign(recipients=2)
    delivery, bystander = setup.sent.deliveries
    list_id = setup.sent.campaign["list_ids"][0]

    answer = await client.post(setup.unsubscribe_path(delivery), data=ONE_CLICK)

    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    assert "set-cookie" not in answer.headers and "<html" not in answer.text
    assert await statuses(setup.workspace_id, delivery["email"]) == {list_id: "unsubscribed",
                                                                    setup.other_list["id"]: "confirmed"}
    assert set((await statuses(setup.workspace_id, bystander["email"])).values()) == {"confirmed"}
    [event] = await unsubscribe_events(setup.campaign_id)
    assert (event["workspace_id"], event["delivery_id"], event["subscriber_id"]) == (
        setup.workspace_id, delivery["id"], delivery["subscriber_id"])
    assert json.loads(event["meta"])["via"] == "one-click" and json.loads(event["meta"])["lists"] == [list_id]
    assert (await campaign_figures(redis, setup.workspace_id, setup.campaign_id))["unsubscribes"] == 1

    again = await client.post(setup.unsubscribe_path(delivery), data=ONE_CLICK)

    assert again.status_code == 200
    assert len(await unsubscribe_events(setup.campaign_id)) == 1
    assert (await campaign_figures(redis, setup.workspace_id, setup.campaign_id))["unsubscribes"] == 1


async def test_a_post_without_the_one_click_body_unsubscribes_too_and_shows_the_page(client):
    setup = await two_list_campaign(recipients=1)
    delivery = setup.sent.deliveries[0]

    answer = await client.post(setup.unsubscribe_path(delivery))

    assert answer.status_code == 200
    assert 'data-testid="unsubscribed"' in answer.text and await list_name(setup.sent.campaign) in answer.text
    assert "set-cookie" not in answer.headers
    assert sorted((await statuses(setup.workspace_id, delivery["email"])).values()) == ["confirmed", "unsubscribed"]


async def test_this_list_then_every_list_counts_the_person_once(client, redis):
    setup = await two_list_campaign(recipients=1)
    delivery = setup.sent.deliveries[0]
    path = setup.unsubscribe_path(delivery)

    await client.post(path, data={"scope": "list"})
    done = await client.post(path, data={"scope": "all"})

    assert "Weekly deals" in done.text
    assert set((await statuses(setup.workspace_id, delivery["email"])).values()) == {"unsubscribed"}
    events = await unsubscribe_events(setup.campaign_id)
    assert [json.loads(e["meta"])["scope"] for e in events] == ["list", "all"]
    assert (await campaign_figures(redis, setup.workspace_id, setup.campaign_id))["unsubscribes"] == 1
    sources = await SubscriberStatusChange.select(SubscriberStatusChange.source).where(
        SubscriberStatusChange.to_status == "unsubscribed")
    assert [row["source"] for row in sources] == ["unsubscribe-link", "unsubscribe-link"]


async def test_an_unknown_scope_is_refused_on_the_page_and_changes_nothing(client):
    setup = await two_list_campaign(recipients=1)
    delivery = setup.sent.deliveries[0]

    answer = await client.post(setup.unsubscribe_path(delivery), data={"scope": "everything-please"})

    assert answer.status_code == 422
    assert 'data-testid="error-scope"' not in answer.text and 'data-testid="unsubscribe-form"' in answer.text
    assert "Choose this list or every list." in answer.text
    assert set((await statuses(setup.workspace_id, delivery["email"])).values()) == {"confirmed"}


async def test_bounced_and_blacklisted_rows_stay_as_they_are(client):
    setup = await two_list_campaign(recipients=1)
    delivery = setup.sent.deliveries[0]
    blocked = await make_list(setup.sent.workspace, "Old list")
    await make_subscriber(blocked, delivery["email"], status="bounced")

    await client.post(setup.unsubscribe_path(delivery), data={"scope": "all"})

    assert (await statuses(setup.workspace_id, delivery["email"]))[blocked["id"]] == "bounced"


def _bad_tokens(good: str, campaign: dict, delivery_id: int, other_workspace_id: int) -> list[str]:
    keys = tracking_keys(get_settings())
    swapped = "A" if good[5] != "A" else "B"
    return [
        good[:-3],  # cut short
        good[:5] + swapped + good[6:],  # one character changed
        signed(get_settings().security.secret_key, "form", campaign["list_ids"][0]),  # signed for another purpose
        url_signature(keys, good, 0, "https://example.com"),  # a click signature, not a token
        # Genuinely signed, but naming this delivery under another workspace.
        delivery_token(keys, DeliveryRef(other_workspace_id, campaign["id"], campaign["snapshot_version"], 0,
                                         delivery_id)),
    ]


@pytest.mark.parametrize("method", ["get", "post"])
async def test_forged_cut_re_purposed_and_cross_workspace_links_are_plain_404s(client, method):
    setup = await two_list_campaign(recipients=1)
    delivery = setup.sent.deliveries[0]
    other = await make_workspace("Elsewhere")
    good = setup.unsubscribe_path(delivery).removeprefix("/u/")
    for token in _bad_tokens(good, setup.sent.campaign, delivery["id"], other["id"]):
        for path in (f"/u/{token}", f"/u/{token}/preferences"):
            answer = await getattr(client, method)(path, **({"data": ONE_CLICK} if method == "post" else {}))
            assert answer.status_code == 404, (token, path)
            assert "location" not in answer.headers
            assert "This link is not valid" in answer.text
    assert set((await statuses(setup.workspace_id, delivery["email"])).values()) == {"confirmed"}
    assert await unsubscribe_events(setup.campaign_id) == []


async def test_a_link_of_older_mail_names_the_address_and_leaves_every_list(client):
    workspace = await make_workspace()
    first, second = await make_list(workspace, "One"), await make_list(workspace, "Two")
    for mailing_list in (first, second):
        await make_subscriber(mailing_list, "old@example.com", status="confirmed")
    path = unsubscribe_url(get_settings(), workspace["id"], "old@example.com").removeprefix(BASE)

    page = await client.get(path)
    assert 'data-testid="unsubscribe-list"' not in page.text and 'data-testid="unsubscribe-all"' in page.text
    answer = await client.post(path, data=ONE_CLICK)

    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/plain")
    assert set((await statuses(workspace["id"], "old@example.com")).values()) == {"unsubscribed"}
    [event] = await unsubscribe_events(None)
    assert json.loads(event["meta"])["scope"] == "all"
