"""The campaign page's engagement section: every figure apart (robots too), rates against the messages
delivered, the click map per link, and the stream that sends the section again whenever a figure moves.

Opens and clicks go through the real pixel and redirect and the aggregator; the figures other writers keep
(robots, web views, unsubscribes, conversions) are raised in Redis as those writers raise them.
"""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

from app.db.audience import Subscriber
from app.db.campaigns import Campaign, Delivery
from app.routes.campaign_engagement import engagement_messages
from app.routes.campaign_pages import CONVERSIONS_SHOWN, ENGAGEMENT
from app.services.tracking.conversions import rotate_postback_secret
from app.services.tracking.figures import raise_figures
from tests.factories import make_workspace, signed_in_client
from tests.integration.tracking.helpers import drain_all, hrefs, path_of, pixel, sent_campaign
from tests.integration.tracking.offer_helpers import postback

OFFER = {"offer_url": "https://offers.example.com/go?aff=12"}
BROWSER = {"User-Agent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
                         "Chrome/124.0 Safari/537.36"}



def _shown(html: str, testid: str) -> str:
    """The text of the element with that data-testid (tags inside it dropped)."""
    match = re.search(rf'data-testid="{testid}"[^>]*>(.*?)</(?:span|td|p)>', html, re.DOTALL)
    assert match, f"no {testid} on the page"
    return re.sub(r"<[^>]+>", "", match.group(1)).strip()


async def _person_reading(client, workspace: dict, recipients: int):
    """A campaign sent yesterday and a client that reads like a person's browser: the robot rules (clicks
    within seconds of delivery, robot User-Agents) leave its opens and clicks to people."""
    client.headers.update(BROWSER)
    sent = await sent_campaign(recipients=recipients, workspace=workspace)
    await Delivery.update({Delivery.sent_at: Delivery.sent_at - timedelta(days=1)}).where(
        Delivery.campaign_id == sent.campaign["id"])
    await Campaign.update({Campaign.sent_count: recipients}).where(Campaign.id == sent.campaign["id"])
    return sent


async def _bot_click(sent, delivery: dict, link_index: int) -> None:
    await Subscriber.raw(
        "INSERT INTO events (workspace_id, subscriber_id, campaign_id, delivery_id, kind, link_index, meta) "
        "VALUES ({}, {}, {}, {}, 'bot_click', {}, {}::jsonb)", sent.workspace["id"], delivery["subscriber_id"],
        sent.campaign["id"], delivery["id"], link_index, '{"rule": "Link scanner"}')


async def test_the_page_shows_each_figure_apart_with_rates_against_delivered(client, redis):
    workspace, _ = await signed_in_client(client)
    sent = await _person_reading(client, workspace, 4)
    first, second = sent.deliveries[:2]
    for delivery in (first, first, second):
        assert (await client.get(path_of(pixel(sent.message(delivery))))).status_code == 200
    spring = [hrefs(sent.message(delivery, OFFER))[0] for delivery in (first, second)]
    for link in (spring[0], spring[0], spring[1]):
        assert (await client.get(path_of(link))).status_code == 302
    assert await drain_all(redis) == 6
    pipeline = redis.pipeline()
    raise_figures(pipeline, workspace["id"], sent.campaign["id"], {
        "machine_opens": 3, "bot_clicks": 2, "web_views": 1, "unsubscribes": 1, "conversions": 1,
        "revenue": Decimal("12.50")})
    await pipeline.execute()

    page = (await client.get(f"/mailing/campaigns/{sent.campaign['id']}")).text

    assert _shown(page, "engagement-delivered") == "against 4 delivered"
    assert (_shown(page, "engagement-unique_opens"), _shown(page, "engagement-total-opens")) == ("2", "3")
    assert _shown(page, "rate-opens") == "50.0% open rate"
    assert (_shown(page, "engagement-unique_clicks"), _shown(page, "engagement-total-clicks")) == ("2", "3")
    assert _shown(page, "rate-clicks") == "50.0% click rate · 100.0% of openers"
    assert (_shown(page, "engagement-machine_opens"), _shown(page, "engagement-bot_clicks")) == ("3", "2")
    assert _shown(page, "engagement-web_views") == "1"
    assert (_shown(page, "engagement-unsubscribes"), _shown(page, "rate-unsubscribes")) == ("1", "25.0% of delivered")
    assert (_shown(page, "engagement-conversions"), _shown(page, "rate-conversions")) == ("1", "25.0% of delivered")
    assert _shown(page, "engagement-revenue") == "12.50"
    assert _shown(page, "revenue-per-thousand") == "3,125.00 per 1,000 delivered"
    assert 'data-testid="engagement-empty"' not in page
    assert 'sse-connect="/mailing/campaigns/{}/engagement/events"'.format(sent.campaign["id"]) in page


async def test_the_click_map_counts_each_link_people_and_robots_apart(client, redis):
    workspace, _ = await signed_in_client(client)
    sent = await _person_reading(client, workspace, 2)
    first, second = sent.deliveries
    spring, account = hrefs(sent.message(first, OFFER))[:2]
    # Two links each: three different links of one message within a second would be a scanner's burst.
    for link in (spring, spring, account, *hrefs(sent.message(second, OFFER))[0:3:2]):
        assert (await client.get(path_of(link))).status_code == 302
    assert await drain_all(redis) == 5
    await _bot_click(sent, second, 1)

    page = (await client.get(f"/mailing/campaigns/{sent.campaign['id']}/engagement")).text
    rows = dict(re.findall(r'data-testid="click-map-row-0-(\d+)">(.*?)</tr>', page, re.DOTALL))

    assert sorted(rows) == ["0", "1", "2"], "the tracked links and the clicked offer, not data-no-track"
    assert "Spring picks" in rows["0"] and "https://shop.example.com/spring?ref=mail" in rows["0"]
    assert (_shown(rows["0"], "click-map-clicks"), _shown(rows["0"], "click-map-people")) == ("3", "2")
    assert "60.0%" in rows["0"]
    assert "{{ email }}" in rows["1"] and "per recipient" in rows["1"]
    assert (_shown(rows["1"], "click-map-clicks"), _shown(rows["1"], "click-map-bots")) == ("1", "1")
    assert "Your offer" in rows["2"] and _shown(rows["2"], "click-map-clicks") == "1"


async def test_a_campaign_without_events_says_what_will_appear(client, redis):
    workspace, _ = await signed_in_client(client)
    sent = await sent_campaign(recipients=1, workspace=workspace)

    page = (await client.get(f"/mailing/campaigns/{sent.campaign['id']}")).text

    assert 'data-testid="engagement-empty"' in page
    assert _shown(page, "rate-opens") == "— open rate"


async def test_the_stream_sends_the_section_again_when_a_figure_moves(client, redis, app):
    workspace, _ = await signed_in_client(client)
    sent = await _person_reading(client, workspace, 1)
    section = app.template_engine.get_template(ENGAGEMENT)

    async def no_pause(seconds: float) -> None:
        return None

    stream = engagement_messages(redis, workspace["id"], sent.campaign["id"], section, pause=no_pause)
    before = await anext(stream)
    assert before.event == "engagement" and _shown(before.data, "engagement-unique_opens") == "0"

    assert (await client.get(path_of(pixel(sent.message(sent.deliveries[0]))))).status_code == 200
    await drain_all(redis)
    after = await anext(stream)
    await stream.aclose()

    assert _shown(after.data, "engagement-unique_opens") == "1"
    assert _shown(after.data, "rate-opens") == "100.0% open rate"


async def test_another_workspaces_engagement_is_not_found(client, redis):
    theirs = await sent_campaign(recipients=1, workspace=await make_workspace())
    await signed_in_client(client)

    for path in ("/engagement", "/engagement/events"):
        assert (await client.get(f"/mailing/campaigns/{theirs.campaign['id']}{path}")).status_code == 404, path


async def test_conversions_come_in_by_postback_and_show_newest_first_with_older_ones_a_click_away(client, redis):
    workspace, _ = await signed_in_client(client)
    sent = await _person_reading(client, workspace, 1)
    delivery = sent.deliveries[0]
    key = await rotate_postback_secret(workspace["id"])
    base = f"/mailing/campaigns/{sent.campaign['id']}"
    assert 'data-testid="conversions-empty"' in (await client.get(base)).text
    for n in range(CONVERSIONS_SHOWN + 2):
        answer = await postback(client, key=key, transaction_id=f"tx-{n}", sub3=delivery["id"], payout=f"{n}.50",
                                currency="usd", offer_id="77", event="Sale")
        assert answer.status_code == 200, answer.text

    page = (await client.get(base)).text
    rows = re.findall(r'data-testid="conversion-row">(.*?)</tr>', page, re.DOTALL)

    assert len(rows) == CONVERSIONS_SHOWN
    assert "tx-11" in rows[0] and delivery["email"] in rows[0] and "11.50 USD" in rows[0]
    assert _shown(page, "engagement-conversions") == "12"
    assert _shown(page, "engagement-revenue") == "72.00"
    older = re.search(r'hx-get="([^"]*/conversions\?before=\d+)"', page)
    assert older, "a button for the older conversions"
    rest = (await client.get(older.group(1), headers={"HX-Request": "true"})).text
    assert re.findall(r"<td class=\"muted\">(tx-\d+)</td>", rest) == ["tx-1", "tx-0"]
    assert 'data-testid="conversions-older"' not in rest
