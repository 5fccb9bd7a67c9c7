"""The engagement score from a person's opens and clicks, its decay, the activity feed's summaries, and the
best sending hour: all from human events only."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from app.db.audience import Subscriber
from app.db.campaigns import Campaign, Delivery
from app.services import activity, activity_feed
from app.services.accounts import now
from app.services.campaigns.send_times import list_best_hours
from app.services.tracking.engagement import decay_scores
from tests.factories import make_list, make_subscriber, make_workspace
from tests.integration.tracking.helpers import SentCampaign, drain_all, hrefs, path_of, pixel, sent_campaign

BROWSER = ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 "
           "Safari/605.1.15")
OFFER = {"offer_url": "https://offers.example.com/go?aff=12"}


async def _sent_an_hour_ago(recipients: int = 1, workspace: dict | None = None) -> SentCampaign:
    sent = await sent_campaign(recipients=recipients, workspace=workspace)
    await Delivery.update({Delivery.sent_at: now() - timedelta(hours=1)}).where(
        Delivery.campaign_id == sent.campaign["id"])
    return sent


async def _score(subscriber_id: int) -> int:
    return (await Subscriber.select(Subscriber.engagement_score).where(Subscriber.id == subscriber_id))[0][
        "engagement_score"]


async def _scored(mailing_list: dict, email: str, score: int, scored_at: datetime | None) -> dict:
    subscriber = await make_subscriber(mailing_list, email, engagement_score=score)
    await Subscriber.raw("UPDATE subscribers SET engagement_scored_at = {} WHERE id = {}", scored_at, subscriber["id"])
    return subscriber


async def _heard(listener, expected: int) -> list[dict]:
    """The feed's entries until `expected` came (or it stayed quiet for a while)."""
    heard: list[dict] = []
    quiet = 0
    while len(heard) < expected and quiet < 10:
        message = await listener.get_message(timeout=0.5)
        quiet = 0 if message else quiet + 1
        if message:
            heard.append(json.loads(message["data"]))
    return heard


async def test_a_first_open_and_click_count_most_and_repeats_a_little(client, redis) -> None:
    sent = await _sent_an_hour_ago()
    delivery = sent.deliveries[0]
    html = sent.message(delivery, OFFER)
    opened, clicked = path_of(pixel(html)), path_of(hrefs(html)[0])
    steps = [(opened, 10), (opened, 11), (clicked, 31), (clicked, 33)]
    for path, score in steps:
        await client.get(path, headers={"User-Agent": BROWSER})
        await drain_all(redis)
        assert await _score(delivery["subscriber_id"]) == score


async def test_the_score_is_capped_at_a_hundred(client, redis) -> None:
    sent = await _sent_an_hour_ago()
    delivery = sent.deliveries[0]
    await Subscriber.update({Subscriber.engagement_score: 95}).where(Subscriber.id == delivery["subscriber_id"])
    await client.get(path_of(pixel(sent.message(delivery))), headers={"User-Agent": BROWSER})
    await drain_all(redis)
    assert await _score(delivery["subscriber_id"]) == 100


async def test_a_score_decays_by_half_over_thirty_days_before_new_points_are_added(client, redis) -> None:
    sent = await _sent_an_hour_ago()
    delivery = sent.deliveries[0]
    await Subscriber.raw("UPDATE subscribers SET engagement_score = 40, "
                         "engagement_scored_at = now() - interval '30 days' WHERE id = {}", delivery["subscriber_id"])
    await client.get(path_of(pixel(sent.message(delivery))), headers={"User-Agent": BROWSER})
    await drain_all(redis)
    assert await _score(delivery["subscriber_id"]) == 20 + 10


async def test_the_daily_decay_writes_only_scores_that_change() -> None:
    workspace = await make_workspace()
    mailing_list = await make_list(workspace)
    moment = datetime(2030, 3, 1, tzinfo=UTC)
    faded = await _scored(mailing_list, "faded@example.com", 80, moment - timedelta(days=60))
    recent = await _scored(mailing_list, "recent@example.com", 10, moment - timedelta(days=1))
    copied = await _scored(mailing_list, "copied@example.com", 50, None)
    assert await decay_scores(workspace["id"], moment) == 2
    rows = {row["id"]: row for row in await Subscriber.raw(
        "SELECT id, engagement_score, engagement_scored_at FROM subscribers")}
    assert (rows[faded["id"]]["engagement_score"], rows[faded["id"]]["engagement_scored_at"]) == (20, moment)
    # 10 * 0.977 still rounds to 10: left alone, it keeps its moment and decays from it next time.
    assert rows[recent["id"]]["engagement_scored_at"] == moment - timedelta(days=1)
    assert (rows[copied["id"]]["engagement_score"], rows[copied["id"]]["engagement_scored_at"]) == (50, moment)
    assert await decay_scores(workspace["id"], moment + timedelta(days=2)) == 3
    assert (await Subscriber.raw("SELECT engagement_score FROM subscribers WHERE id = {}", recent["id"]))[0][
        "engagement_score"] == 9


async def test_the_activity_feed_hears_one_summary_per_campaign_per_batch(client, redis) -> None:
    workspace = await make_workspace()
    spring = await _sent_an_hour_ago(recipients=2, workspace=workspace)
    autumn = await _sent_an_hour_ago(recipients=1, workspace=workspace)
    await Campaign.update({Campaign.name: "Autumn"}).where(Campaign.id == autumn.campaign["id"])
    for delivery in spring.deliveries:
        await client.get(path_of(pixel(spring.message(delivery))), headers={"User-Agent": BROWSER})
    await client.get(path_of(hrefs(spring.message(spring.deliveries[0], OFFER))[0]), headers={"User-Agent": BROWSER})
    await client.get(path_of(pixel(autumn.message(autumn.deliveries[0]))), headers={"User-Agent": "Mozilla/5.0"})
    listener = redis.pubsub(ignore_subscribe_messages=True)
    await listener.subscribe(activity.channel(workspace["id"]))
    try:
        await drain_all(redis)
        heard = await _heard(listener, 2)
    finally:
        await listener.aclose()
    assert sorted((entry["details"]["name"], entry["details"]["summary"]) for entry in heard) == [
        ("Autumn", "1 machine open"), ("Spring", "2 opens, 1 click")]
    assert {entry["action"] for entry in heard} == {activity.ENGAGEMENT}
    # Kept too: a portal page loaded afterwards still shows them, in words, among the audit rows.
    shown = [entry["sentence"] for entry in await activity_feed.recent(workspace["id"], limit=10)]
    assert "Tracking recorded 2 opens, 1 click on campaign “Spring”" in shown
    assert any("1 machine open" in sentence for sentence in shown)


async def test_the_best_hour_is_taken_from_a_persons_opens_not_a_proxys() -> None:
    workspace = await make_workspace()
    mailing_list = await make_list(workspace)
    subscriber = await make_subscriber(mailing_list, "reader@example.com")
    monday_3am, tuesday_10am = datetime(2030, 1, 7, 3, tzinfo=UTC), datetime(2030, 1, 8, 10, tzinfo=UTC)
    rows = [("machine_open", monday_3am)] * 3 + [("open", tuesday_10am)]
    for kind, at in rows:
        await Subscriber.raw("INSERT INTO events (workspace_id, subscriber_id, kind, occurred_at) "
                             "VALUES ({}, {}, {}, {})", workspace["id"], subscriber["id"], kind, at)
    assert await list_best_hours(workspace["id"], [mailing_list["id"]]) == {mailing_list["id"]: 24 + 10}
