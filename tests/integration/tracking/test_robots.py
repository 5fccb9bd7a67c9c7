"""Robots set apart: scanners, privacy proxies, link bursts and clicks at delivery become machine opens and
bot clicks naming their rule, and move no unique count, last open or click, or engagement score."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest

from app.db.audience import Subscriber
from app.db.campaigns import Delivery
from app.services.accounts import now
from app.services.tracking import robot_rules
from app.services.tracking.events import FIELD, STREAM, event_line
from app.services.tracking.figures import campaign_figures
from app.services.tracking.robots import burst_members
from app.services.tracking.tokens import DeliveryRef, delivery_token, tracking_keys
from app.settings import get_settings
from tests.factories import make_workspace
from tests.integration.tracking.helpers import SentCampaign, drain_all, hrefs, path_of, pixel, sent_campaign

BROWSER = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 "
           "Safari/537.36")
OFFER = {"offer_url": "https://offers.example.com/go?aff=12"}


@pytest.fixture
async def from_microsoft(server) -> AsyncIterator[httpx.AsyncClient]:
    """A client whose requests come from Exchange Online Protection's network, as Safe Links' do."""
    transport = httpx.ASGITransport(app=server, client=("40.92.7.9", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000") as client:
        yield client


async def _sent_an_hour_ago(recipients: int = 1, workspace: dict | None = None) -> SentCampaign:
    sent = await sent_campaign(recipients=recipients, workspace=workspace)
    await Delivery.update({Delivery.sent_at: now() - timedelta(hours=1)}).where(
        Delivery.campaign_id == sent.campaign["id"])
    return sent


async def _events(campaign_id: int) -> list[dict]:
    rows = await Subscriber.raw("SELECT kind, link_index, meta FROM events WHERE campaign_id = {} ORDER BY id",
                                campaign_id)
    return [{**row, "meta": json.loads(row["meta"]) if isinstance(row["meta"], str) else row["meta"]}
            for row in rows]


async def _subscriber(sent: SentCampaign, number: int = 0) -> dict:
    return (await Subscriber.select().where(Subscriber.id == sent.deliveries[number]["subscriber_id"]))[0]


async def _rule_id(workspace: dict, name: str) -> int:
    return next(rule["id"] for rule in await robot_rules.rules_of(workspace["id"]) if rule["name"] == name)


async def test_every_new_workspace_starts_with_the_default_rules() -> None:
    workspace = await make_workspace()
    names = [rule["name"] for rule in await robot_rules.rules_of(workspace["id"])]
    assert names == ["Apple Mail Privacy Protection", "Gmail image proxy", "Microsoft Safe Links and Defender",
                     "Google mail security and proxies", "Barracuda", "Mimecast", "Proofpoint",
                     "Known robot User-Agents", "Many links within a second", "Click within seconds of delivery"]
    await robot_rules.delete_rule(workspace["id"], await _rule_id(workspace, "Barracuda"))
    assert await robot_rules.restore_defaults(workspace["id"]) == 1
    assert len(await robot_rules.rules_of(workspace["id"])) == 10


async def test_privacy_proxies_and_scanners_are_machine_opens_that_name_their_rule(client, redis) -> None:
    sent = await _sent_an_hour_ago(recipients=3)
    agents = ["Mozilla/5.0", "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com "
              "GoogleImageProxy)", "Barracuda Sentinel (EE)"]
    for delivery, agent in zip(sent.deliveries, agents, strict=True):
        response = await client.get(path_of(pixel(sent.message(delivery))), headers={"User-Agent": agent})
        assert response.status_code == 200
    assert await drain_all(redis) == 3
    events = await _events(sent.campaign["id"])
    assert [(e["kind"], e["meta"]["rule"]) for e in events] == [
        ("machine_open", "Apple Mail Privacy Protection"), ("machine_open", "Gmail image proxy"),
        ("machine_open", "Known robot User-Agents")]
    figures = await campaign_figures(redis, sent.workspace["id"], sent.campaign["id"])
    assert (figures["machine_opens"], figures["opens"], figures["unique_opens"]) == (3, 0, 0)
    for number in range(3):
        subscriber = await _subscriber(sent, number)
        assert subscriber["last_open_at"] is None and subscriber["engagement_score"] == 0
    assert await Subscriber.raw("SELECT * FROM delivery_engagement") == []


async def test_a_click_from_a_scanners_network_is_a_bot_click(from_microsoft, redis) -> None:
    sent = await _sent_an_hour_ago()
    spring = hrefs(sent.message(sent.deliveries[0], OFFER))[0]
    response = await from_microsoft.get(path_of(spring), headers={"User-Agent": BROWSER})
    # The scanner still gets the redirect: a robot is only counted apart, never refused.
    assert response.status_code == 302
    await drain_all(redis)
    assert [(e["kind"], e["meta"]["rule"]) for e in await _events(sent.campaign["id"])] == [
        ("bot_click", "Microsoft Safe Links and Defender")]
    figures = await campaign_figures(redis, sent.workspace["id"], sent.campaign["id"])
    assert (figures["bot_clicks"], figures["clicks"], figures["unique_clicks"]) == (1, 0, 0)
    assert (await _subscriber(sent))["last_click_at"] is None


async def test_every_link_clicked_within_a_second_is_a_bot_click(client, redis) -> None:
    sent = await _sent_an_hour_ago()
    spring, account, offer, *_ = hrefs(sent.message(sent.deliveries[0], OFFER))
    for link in (spring, account, offer):
        assert (await client.get(path_of(link), headers={"User-Agent": BROWSER})).status_code == 302
    await drain_all(redis)
    assert [(e["kind"], e["link_index"], e["meta"]["rule"]) for e in await _events(sent.campaign["id"])] == [
        ("bot_click", 0, "Many links within a second"), ("bot_click", 1, "Many links within a second"),
        ("bot_click", 2, "Many links within a second")]
    subscriber = await _subscriber(sent)
    assert subscriber["last_click_at"] is None and subscriber["engagement_score"] == 0


async def test_a_burst_that_began_in_an_earlier_batch_is_still_caught(client, redis) -> None:
    sent = await _sent_an_hour_ago()
    spring, account, offer, *_ = hrefs(sent.message(sent.deliveries[0], OFFER))
    for link in (spring, account):
        await client.get(path_of(link), headers={"User-Agent": BROWSER})
    await drain_all(redis)
    await client.get(path_of(offer), headers={"User-Agent": BROWSER})
    await drain_all(redis)
    # Two links are within a person's reach; the third within the second is not. What was stored stays.
    assert [e["kind"] for e in await _events(sent.campaign["id"])] == ["click", "click", "bot_click"]


async def test_a_click_within_seconds_of_delivery_is_a_bot_click_and_a_later_one_a_persons(client, redis) -> None:
    sent = await _sent_an_hour_ago(recipients=2)
    await Delivery.update({Delivery.sent_at: now()}).where(Delivery.id == sent.deliveries[0]["id"])
    for delivery in sent.deliveries:
        spring = hrefs(sent.message(delivery, OFFER))[0]
        await client.get(path_of(spring), headers={"User-Agent": BROWSER})
    await drain_all(redis)
    assert [(e["kind"], e["meta"].get("rule")) for e in await _events(sent.campaign["id"])] == [
        ("bot_click", "Click within seconds of delivery"), ("click", None)]
    figures = await campaign_figures(redis, sent.workspace["id"], sent.campaign["id"])
    assert (figures["bot_clicks"], figures["clicks"], figures["unique_clicks"]) == (1, 1, 1)
    assert (await _subscriber(sent, 0))["last_click_at"] is None
    assert (await _subscriber(sent, 1))["last_click_at"] is not None


async def test_a_disabled_rule_flags_nothing_and_a_new_one_names_itself(client, redis) -> None:
    sent = await _sent_an_hour_ago(recipients=2)
    workspace_id = sent.workspace["id"]
    await robot_rules.set_enabled(workspace_id, await _rule_id(sent.workspace, "Apple Mail Privacy Protection"),
                                  False)
    await robot_rules.create_rule(workspace_id, {"name": "Our uptime checker", "kind": "user_agent",
                                                 "applies_to": "both", "pattern": r"acmewidget/\d", "enabled": "on"})
    first, second = (path_of(pixel(sent.message(delivery))) for delivery in sent.deliveries)
    await client.get(first, headers={"User-Agent": "Mozilla/5.0"})
    await client.get(second, headers={"User-Agent": "AcmeWidget/2.1"})
    await drain_all(redis)
    assert [(e["kind"], e["meta"].get("rule")) for e in await _events(sent.campaign["id"])] == [
        ("open", None), ("machine_open", "Our uptime checker")]


async def test_rules_of_another_workspace_do_not_apply(client, redis) -> None:
    other = await make_workspace()
    await robot_rules.create_rule(other["id"], {"name": "Everything Chrome", "kind": "user_agent",
                                                "applies_to": "both", "pattern": "Chrome", "enabled": "on"})
    sent = await _sent_an_hour_ago()
    await client.get(path_of(pixel(sent.message(sent.deliveries[0]))), headers={"User-Agent": BROWSER})
    await drain_all(redis)
    assert [e["kind"] for e in await _events(sent.campaign["id"])] == ["open"]


async def test_a_web_view_is_counted_as_one_whatever_reads_it(redis) -> None:
    sent = await _sent_an_hour_ago()
    delivery = sent.deliveries[0]
    token = delivery_token(tracking_keys(get_settings()), DeliveryRef(
        sent.workspace["id"], sent.campaign["id"], sent.campaign["snapshot_version"], 0, delivery["id"]))
    lines = [event_line("web_view", token, agent, "127.0.0.1") for agent in (BROWSER, "Barracuda Sentinel (EE)")]
    await redis.xadd(STREAM, {FIELD: "\n".join(lines)})
    assert await drain_all(redis) == 2
    assert [e["kind"] for e in await _events(sent.campaign["id"])] == ["web_view", "web_view"]
    figures = await campaign_figures(redis, sent.workspace["id"], sent.campaign["id"])
    assert (figures["web_views"], figures["opens"], figures["machine_opens"]) == (2, 0, 0)
    assert (await _subscriber(sent))["engagement_score"] == 0


def test_a_burst_is_enough_different_links_inside_one_window() -> None:
    # (seconds, link, tag): three links within a second, then a fourth click alone.
    clicks = [(0.0, 0, 1), (0.5, 1, 2), (0.9, 2, 3), (5.0, 3, 4)]
    assert burst_members(clicks, links=3, seconds=1) == {1, 2, 3}
    # The same link again and again is a person coming back, not a scanner.
    assert burst_members([(0.0, 0, 1), (0.1, 0, 2), (0.2, 0, 3)], links=3, seconds=1) == set()
    # Spread over more than the window: no three links share one second.
    assert burst_members([(0.0, 0, 1), (0.6, 1, 2), (1.2, 2, 3)], links=3, seconds=1) == set()
    # Clicks already stored (tag None) count towards a burst but are not returned.
    assert burst_members([(0.0, 0, None), (0.3, 1, None), (0.4, 2, 7)], links=3, seconds=1) == {7}
