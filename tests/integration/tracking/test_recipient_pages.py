"""The pages a recipient reaches from a message: the web version (/v/), the preference centre, and the
double opt-in confirmation, which only a button confirms."""

from __future__ import annotations

import json
import re

import pytest

from app.db.audience import Subscriber
from app.db.inbox import CapturedMessage
from app.services.custom_fields import add_field
from app.services.inbox import captured_message
from app.services.subscriptions import public_form_url
from app.services.tracking.events import STREAM, entry_events
from app.services.tracking.figures import campaign_figures
from app.services.tracking.tokens import DeliveryRef, delivery_token, tracking_keys
from app.services.tracking.web_version import with_title
from app.settings import get_settings
from tests.factories import make_list, make_workspace
from tests.integration.tracking.helpers import drain_all, hrefs
from tests.integration.tracking.recipients_helpers import statuses, two_list_campaign, unsubscribe_events

BROWSER = {"User-Agent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0) AppleWebKit/605.1.15 Version/17.0 Safari"}
HTML = ("<html><body><p>Hello {{ first_name | default('there') }}</p>"
        '<p><a href="https://shop.example.com/spring">Spring picks</a></p>'
        '<p><a href="{{ web_version_url }}">View online</a> <a href="{{ unsubscribe_url }}">Unsubscribe</a></p>'
        "</body></html>")


async def _stream_kinds(redis) -> list[tuple[str, str]]:
    return [(event.kind, event.token) for entry_id, fields in await redis.xrange(STREAM)
            for event in entry_events(entry_id, fields) if event]


async def test_the_web_version_is_the_message_the_recipient_got_and_counts_a_web_view(client, redis):
    setup = await two_list_campaign(recipients=1, html=HTML, first_name="Zoë")
    delivery = setup.sent.deliveries[0]
    path = setup.web_version_path(delivery)
    token = path.removeprefix("/v/")

    page = await client.get(path, headers=BROWSER)

    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert page.headers["content-security-policy"].startswith("sandbox")
    assert "set-cookie" not in page.headers
    assert "Hello Zoë" in page.text
    # Titled with the subject the recipient got, the template having left its title out.
    assert page.text.count("<title>") == 1 and "<title></title>" not in page.text
    links = hrefs(page.text)
    assert links[0].endswith(f"/c/{token}/0")
    assert links[1:] == [f"http://127.0.0.1:8000/v/{token}", f"http://127.0.0.1:8000/u/{token}"]
    assert "/o/" not in page.text, "a web view is not also an open"
    assert await _stream_kinds(redis) == [("web_view", token)]
    assert await drain_all(redis) == 1
    rows = await Subscriber.raw("SELECT kind, delivery_id, subscriber_id FROM events")
    assert rows == [{"kind": "web_view", "delivery_id": delivery["id"], "subscriber_id": delivery["subscriber_id"]}]
    assert (await campaign_figures(redis, setup.workspace_id, setup.campaign_id))["web_views"] == 1


async def test_forged_other_version_and_other_workspace_web_versions_are_plain_404s(client, redis):
    setup = await two_list_campaign(recipients=1, html=HTML)
    delivery = setup.sent.deliveries[0]
    campaign = setup.sent.campaign
    other = await make_workspace("Elsewhere")
    keys = tracking_keys(get_settings())
    good = setup.web_version_path(delivery).removeprefix("/v/")
    tokens = [good[:-2], "not-a-token", delivery_token(keys, DeliveryRef(
        campaign["workspace_id"], campaign["id"], campaign["snapshot_version"] - 1, 0, delivery["id"])),
        delivery_token(keys, DeliveryRef(other["id"], campaign["id"], campaign["snapshot_version"], 0, delivery["id"]))]
    for token in tokens:
        answer = await client.get(f"/v/{token}")
        assert answer.status_code == 404 and "location" not in answer.headers, token
        assert "Hello" not in answer.text
    assert await redis.xlen(STREAM) == 0


async def test_a_person_erased_since_has_no_web_version(client):
    setup = await two_list_campaign(recipients=1, html=HTML)
    delivery = setup.sent.deliveries[0]
    await Subscriber.delete().where(Subscriber.id == delivery["subscriber_id"])

    assert (await client.get(setup.web_version_path(delivery))).status_code == 404


async def _fields(delivery: dict) -> dict:
    row = await Subscriber.select(Subscriber.fields).where(Subscriber.id == delivery["subscriber_id"]).output(
        load_json=True).first()
    return row["fields"]


async def _with_fields(setup) -> None:
    list_id = setup.sent.campaign["list_ids"][0]
    await add_field(setup.workspace_id, list_id, {"label": "Age", "kind": "number"})
    await add_field(setup.workspace_id, list_id, {"label": "Score", "kind": "number", "visible": ""})


async def test_the_preference_centre_shows_the_lists_and_visible_fields(client):
    setup = await two_list_campaign(recipients=1, age=41, score=7)
    await _with_fields(setup)
    delivery = setup.sent.deliveries[0]
    path = setup.unsubscribe_path(delivery) + "/preferences"

    page = await client.get(path)

    assert page.status_code == 200 and "set-cookie" not in page.headers
    for list_id in (setup.sent.campaign["list_ids"][0], setup.other_list["id"]):
        assert re.search(rf'name="list_{list_id}" checked', page.text)
    assert 'name="field_age"' in page.text and 'value="41"' in page.text
    assert "field_score" not in page.text, "a hidden field is not shown to the person"


async def test_bad_preference_values_are_refused_next_to_the_field_and_change_nothing(client):
    setup = await two_list_campaign(recipients=1, age=41, score=7)
    await _with_fields(setup)
    delivery = setup.sent.deliveries[0]
    path = setup.unsubscribe_path(delivery) + "/preferences"
    campaign_list = setup.sent.campaign["list_ids"][0]
    shown = f"{campaign_list},{setup.other_list['id']}"

    refused = await client.post(path, data={"shown": shown, f"list_{campaign_list}": "on", "field_age": "forty"})

    assert refused.status_code == 422
    assert 'data-testid="error-field_age"' in refused.text and 'value="forty"' in refused.text
    assert not re.search(rf'name="list_{setup.other_list["id"]}" checked', refused.text), "the unticked box stays"
    assert set((await statuses(setup.workspace_id, delivery["email"])).values()) == {"confirmed"}
    assert await _fields(delivery) == {"age": 41, "score": 7}

    saved = await client.post(path, data={"shown": shown, f"list_{campaign_list}": "on", "field_age": "42"})

    assert saved.status_code == 200 and 'data-testid="preferences-saved"' in saved.text
    assert "You left Weekly deals." in saved.text
    assert await statuses(setup.workspace_id, delivery["email"]) == {campaign_list: "confirmed",
                                                                    setup.other_list["id"]: "unsubscribed"}
    assert await _fields(delivery) == {"age": 42, "score": 7}
    [event] = await unsubscribe_events(setup.campaign_id)
    assert json.loads(event["meta"])["via"] == "preferences"


async def test_a_list_left_can_be_rejoined_and_a_foreign_list_is_not_found(client):
    setup = await two_list_campaign(recipients=1)
    delivery = setup.sent.deliveries[0]
    path = setup.unsubscribe_path(delivery)
    await client.post(path, data={"scope": "all"})
    foreign = await make_list(await make_workspace("Other"), "Theirs")
    campaign_list = setup.sent.campaign["list_ids"][0]

    tampered = await client.post(f"{path}/preferences", data={"shown": str(campaign_list),
                                                               f"list_{foreign['id']}": "on"})
    assert tampered.status_code == 404
    assert set((await statuses(setup.workspace_id, delivery["email"])).values()) == {"unsubscribed"}

    await client.post(f"{path}/preferences", data={"shown": str(campaign_list), f"list_{campaign_list}": "on"})
    assert await statuses(setup.workspace_id, delivery["email"]) == {campaign_list: "confirmed",
                                                                    setup.other_list["id"]: "unsubscribed"}


async def test_a_confirmation_link_confirms_only_when_its_button_is_pressed(client):
    workspace = await make_workspace()
    mailing_list = await make_list(workspace, "Double", opt_in="double")
    await client.post(public_form_url(get_settings(), mailing_list["id"]).removeprefix("http://127.0.0.1:8000"),
                      data={"email": "d@example.com"})
    captured = await CapturedMessage.select(CapturedMessage.id).first()
    link = re.search(r"/s/confirm/\S+", (await captured_message(workspace["id"], captured["id"])).text).group(0)

    shown = await client.get(link)

    assert shown.status_code == 200 and 'data-testid="confirm-subscription"' in shown.text
    assert (await Subscriber.select(Subscriber.status).first())["status"] == "unconfirmed"
    done = await client.post(link)
    assert done.status_code == 200 and 'data-testid="subscription-confirmed"' in done.text
    assert (await Subscriber.select(Subscriber.status).first())["status"] == "confirmed"
    assert 'data-testid="subscription-confirmed"' in (await client.get(link)).text
    assert (await client.post(link + "x")).status_code == 410


@pytest.mark.parametrize(("html", "expected"), [
    ("<html><head><title> </title></head></html>", "<html><head><title>Tea &amp; cake</title></head></html>"),
    ("<html><head lang=en></head></html>", "<html><head lang=en><title>Tea &amp; cake</title></head></html>"),
    ("<html><head><title>Own</title></head></html>", "<html><head><title>Own</title></head></html>"),
    ("<p>Hi</p>", "<title>Tea &amp; cake</title><p>Hi</p>"),
])
def test_the_web_version_takes_the_subject_as_its_title_only_when_the_template_has_none(html, expected):
    assert with_title(html, "Tea & cake") == expected
