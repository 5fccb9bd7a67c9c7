"""The aggregator writes every answered event exactly once, whatever happens between its insert and its
acknowledgement; trimming keeps what is not done; partitions can be made after rows of their month arrived."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from app.db.audience import Subscriber
from app.services.tracking.aggregator import trim
from app.services.tracking.events import FIELD, GROUP, STREAM, EventAppender, event_line
from app.services.tracking.figures import campaign_figures
from app.services.tracking.partitions import ensure_partitions
from tests.integration.tracking.helpers import NO_FIGURES, drain_all, path_of, pixel, sent_campaign


class AggregatorDied(Exception):
    pass


async def _die() -> None:
    raise AggregatorDied


async def _count(sql: str, *args: object) -> int:
    return (await Subscriber.raw(sql, *args))[0]["n"]


async def _opened(client, sent, times: int) -> None:
    paths = [path_of(pixel(sent.message(delivery))) for delivery in sent.deliveries]
    for _ in range(times):
        for path in paths:
            assert (await client.get(path)).status_code == 200


async def test_an_aggregator_killed_after_its_insert_loses_and_doubles_nothing(client, redis) -> None:
    sent = await sent_campaign(recipients=5)
    await _opened(client, sent, times=3)
    with pytest.raises(AggregatorDied):
        await drain_all(redis, consumer="doomed", before_ack=_die)
    # Written but never acknowledged: the entries are still pending for the dead consumer.
    assert (await redis.xpending(STREAM, GROUP))["pending"] == 15
    # A new aggregator takes them over once they have been idle long enough (here: at once).
    await drain_all(redis, consumer="successor", reclaim_after_ms=0)
    assert (await redis.xpending(STREAM, GROUP))["pending"] == 0
    assert await _count("SELECT count(*) AS n FROM events WHERE campaign_id = {}", sent.campaign["id"]) == 15
    assert await _count("SELECT count(DISTINCT stream_id) AS n FROM events") == 15
    figures = await campaign_figures(redis, sent.workspace["id"], sent.campaign["id"])
    assert figures == {**NO_FIGURES, **{"opens": 15, "unique_opens": 5, "clicks": 0, "unique_clicks": 0}}
    assert await _count("SELECT sum(opens) AS n FROM delivery_engagement") == 15


async def test_pending_entries_of_a_live_aggregator_are_left_to_it(client, redis) -> None:
    sent = await sent_campaign(recipients=2)
    await _opened(client, sent, times=1)
    with pytest.raises(AggregatorDied):
        await drain_all(redis, consumer="slow", before_ack=_die)
    assert await drain_all(redis, consumer="other", reclaim_after_ms=60_000) == 0
    assert (await redis.xpending(STREAM, GROUP))["pending"] == 2


async def test_trimming_keeps_pending_and_unread_entries(client, redis) -> None:
    sent = await sent_campaign(recipients=3)
    await _opened(client, sent, times=1)
    with pytest.raises(AggregatorDied):
        await drain_all(redis, consumer="doomed", before_ack=_die)
    await _opened(client, sent, times=1)
    await trim(redis)
    assert await redis.xlen(STREAM) == 6
    await drain_all(redis, reclaim_after_ms=0)
    await trim(redis)
    assert await redis.xlen(STREAM) == 0
    assert await _count("SELECT count(*) AS n FROM events") == 6


async def test_subscribers_move_forward_only_and_lists_keep_their_counts(client, redis) -> None:
    sent = await sent_campaign(recipients=2)
    later = datetime(2030, 1, 1, tzinfo=UTC)
    await Subscriber.update({Subscriber.last_open_at: later}).where(
        Subscriber.id == sent.deliveries[0]["subscriber_id"])
    counters = await Subscriber.raw("SELECT total, confirmed FROM list_counters")
    await _opened(client, sent, times=1)
    await drain_all(redis)
    rows = {row["id"]: row["last_open_at"] for row in await Subscriber.select(Subscriber.id, Subscriber.last_open_at)}
    assert rows[sent.deliveries[0]["subscriber_id"]] == later
    assert rows[sent.deliveries[1]["subscriber_id"]] is not None
    assert await Subscriber.raw("SELECT total, confirmed FROM list_counters") == counters


async def test_a_month_with_rows_in_the_default_partition_still_gets_its_partition() -> None:
    sent = await sent_campaign(recipients=1)
    delivery = sent.deliveries[0]
    await Subscriber.raw(
        "INSERT INTO events (workspace_id, campaign_id, delivery_id, kind, occurred_at, stream_id) "
        "VALUES ({}, {}, {}, 'open', '2031-05-09T10:00:00Z', '1-1'), "
        "({}, {}, {}, 'open', '2031-06-01T00:00:00Z', '1-2')",
        *([sent.workspace["id"], sent.campaign["id"], delivery["id"]] * 2))
    assert await _count("SELECT count(*) AS n FROM events_default") == 2
    assert (await Subscriber.raw("SELECT ensure_events_partition('2031-05-20') AS name"))[0]["name"] == "events_2031_05"
    assert await _count("SELECT count(*) AS n FROM events_2031_05") == 1
    assert await _count("SELECT count(*) AS n FROM events_default") == 1
    assert await _count("SELECT count(*) AS n FROM events") == 2
    names = await ensure_partitions()
    assert len(names) == 3 and names[0] == f"events_{datetime.now(UTC):%Y_%m}"


async def test_shutdown_appends_what_is_still_queued(redis) -> None:
    from app.redis_client import get_redis

    events = EventAppender(get_redis, buffer_max=100)
    waiting = [asyncio.ensure_future(events.append(event_line("open", f"t{n}", "", "127.0.0.1")))
               for n in range(20)]
    await asyncio.sleep(0)
    await events.close()
    await asyncio.gather(*waiting)
    lines = [line for _, fields in await redis.xrange(STREAM) for line in fields[FIELD].split("\n")]
    assert sorted(line.split("\t")[1] for line in lines) == sorted(f"t{n}" for n in range(20))
