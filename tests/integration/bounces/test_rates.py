"""Bounce and complaint rates: hourly counters in PostgreSQL, summed over rolling windows."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from app.redis_client import get_redis
from app.services import campaigns
from app.services.bounces import rates
from app.services.bounces.rates import FeedbackCount, Rates
from app.services.campaigns.batches import Written
from app.services.sqlparams import fetch_positional
from tests.factories import make_list, make_subscribers, make_workspace
from tests.integration.bounces.helpers_rates import add_sent, age_counters, counted
from tests.integration.campaigns.helpers import PERSON, LocalQueue, ready_campaign, smtp_server
from tests.integration.campaigns.recorder import RecordingServer


@pytest.fixture
def redis() -> Any:
    return get_redis()


@pytest.fixture
def queue() -> LocalQueue:
    return LocalQueue()


@pytest.fixture
async def adapters() -> AsyncIterator[Any]:
    from app.services.sending import Adapters

    pool = Adapters()
    yield pool
    await pool.aclose()


async def test_reports_are_counted_per_server_group_and_campaign_and_only_the_categories_that_matter():
    workspace = await make_workspace()
    await rates.count_feedback(workspace["id"], [
        FeedbackCount(7, "Gmail", 3, "hard"), FeedbackCount(7, "Gmail", 3, "hard", n=2),
        FeedbackCount(7, "Gmail", 3, "complaint"), FeedbackCount(7, "Yahoo/AOL", 3, "soft"),
        FeedbackCount(None, "", None, "block"), FeedbackCount(7, "Gmail", 3, "autoreply"),
        FeedbackCount(7, "Gmail", 3, "unknown"), FeedbackCount(7, "Gmail", 3, "delivered"),
    ])
    await rates.count_feedback(workspace["id"], [FeedbackCount(7, "Gmail", 3, "hard")])
    rows = {(r["server_id"], r["domain_group"], r["campaign_id"]): (
        r["sent"], r["hard"], r["soft"], r["block"], r["complaint"]) for r in await counted(workspace["id"])}
    assert rows == {(7, "Gmail", 3): (0, 4, 0, 0, 1), (7, "Yahoo/AOL", 3): (0, 0, 1, 0, 0), (0, "", 0): (0, 0, 0, 1, 0)}


async def test_nothing_to_count_writes_nothing():
    workspace = await make_workspace()
    await rates.count_feedback(workspace["id"], [FeedbackCount(1, "Gmail", 1, "autoreply")])
    await rates.count_feedback(workspace["id"], [])
    assert await counted(workspace["id"]) == []


async def test_concurrent_counting_of_the_same_keys_loses_nothing():
    workspace = await make_workspace()
    counts = [FeedbackCount(1, "Gmail", 1, "complaint"), FeedbackCount(1, "Microsoft", 1, "hard")]
    await asyncio.gather(*[rates.count_feedback(workspace["id"], counts if i % 2 else counts[::-1])
                           for i in range(20)])
    assert await rates.pair_rates(workspace["id"], 1, "Gmail") == Rates(complaint=20)
    assert await rates.pair_rates(workspace["id"], 1, "Microsoft") == Rates(hard=20)


async def test_rolling_windows_keep_a_day_and_a_week():
    workspace = await make_workspace()
    await add_sent(workspace["id"], 1, "Gmail", 1000)
    await rates.count_feedback(workspace["id"], [FeedbackCount(1, "Gmail", None, "complaint", n=2)])
    await age_counters(workspace["id"], 30)
    await add_sent(workspace["id"], 1, "Gmail", 500)
    await rates.count_feedback(workspace["id"], [FeedbackCount(1, "Gmail", None, "complaint")])
    day = await rates.pair_rates(workspace["id"], 1, "Gmail", rates.DAY)
    week = await rates.pair_rates(workspace["id"], 1, "Gmail", rates.WEEK)
    assert (day.sent, day.complaint) == (500, 1) and day.complaint_rate == 1 / 500
    assert (week.sent, week.complaint) == (1500, 3)
    [pair] = await rates.rates_by_pair(workspace["id"])
    assert (pair.server_id, pair.domain_group, pair.day, pair.week) == (1, "Gmail", day, week)
    await age_counters(workspace["id"], 24 * 7)
    assert await rates.pair_rates(workspace["id"], 1, "Gmail", rates.WEEK) == Rates()
    assert await rates.rates_by_pair(workspace["id"]) == []


async def test_rates_are_held_to_their_workspace():
    mine, theirs = await make_workspace(), await make_workspace()
    await add_sent(theirs["id"], 1, "Gmail", 100, campaign_id=5)
    await rates.count_feedback(theirs["id"], [FeedbackCount(1, "Gmail", 5, "hard")])
    assert await rates.pair_rates(mine["id"], 1, "Gmail") == Rates()
    assert await rates.campaign_rates(mine["id"], 5) == Rates()
    assert await rates.campaign_rates(theirs["id"], 5) == Rates(sent=100, hard=1)


async def test_the_campaign_write_back_counts_what_was_sent(redis, queue, adapters):
    workspace = await make_workspace()
    people = await make_list(workspace)
    await make_subscribers(people, 30)
    with RecordingServer() as smtp:
        server = await smtp_server(workspace["id"], smtp.port)
        campaign = await ready_campaign(workspace["id"], [people["id"]])
        await campaigns.launch(redis, queue, workspace["id"], campaign["id"], PERSON)
        await queue.drain(redis, adapters)
    [row] = await counted(workspace["id"])
    assert (row["server_id"], row["domain_group"], row["campaign_id"], row["sent"]) == (
        server["id"], "Others", campaign["id"], 30)
    assert (await rates.campaign_rates(workspace["id"], campaign["id"])).sent == 30


async def test_the_write_back_and_its_sent_counters_are_one_transaction(redis, queue, adapters, monkeypatch):
    workspace = await make_workspace()
    people = await make_list(workspace)
    await make_subscribers(people, 3)
    campaign = await ready_campaign(workspace["id"], [people["id"]])
    await campaigns.launch(redis, queue, workspace["id"], campaign["id"], PERSON)
    await campaigns.materialise(redis, queue, workspace["id"], campaign["id"])
    rows = await fetch_positional(
        "UPDATE deliveries SET status = 'claimed' WHERE campaign_id = $1 RETURNING id", [campaign["id"]])
    written = Written()
    for row in rows:
        written.add(row["id"], "sent", group="Others", attempted=1)

    async def counting_fails(workspace_id: int, delivery_ids: list[int]) -> None:
        raise ConnectionError("the database went away while counting")

    monkeypatch.setattr(rates, "count_sent", counting_fails)
    with pytest.raises(ConnectionError):
        await written.store(redis, queue, workspace["id"], campaign["id"])
    statuses = {r["status"] for r in await fetch_positional(
        "SELECT status FROM deliveries WHERE campaign_id = $1", [campaign["id"]])}
    assert statuses == {"claimed"}  # the batch is claimed again after its lease, and counted then
    assert await counted(workspace["id"]) == []


async def test_counters_older_than_a_quarter_are_forgotten_and_recent_ones_kept():
    from app.services import housekeeping

    old, recent = await make_workspace(), await make_workspace()
    for workspace in (old, recent):
        await rates.count_feedback(workspace["id"], [FeedbackCount(7, "Gmail", 3, "hard")])
    await age_counters(old["id"], hours=91 * 24)
    await age_counters(recent["id"], hours=89 * 24)
    assert await housekeeping.forget_old_feedback_counts() >= 1
    assert await counted(old["id"]) == []
    assert [row["hard"] for row in await counted(recent["id"])] == [1]
