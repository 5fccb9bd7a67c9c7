"""The rollups the writers keep equal what `rebuild` recomputes from the raw tables, per hour and per day, and
a rebuild run twice changes nothing: sends written back, opens, clicks, an unsubscribe, bounces and
conversions all go through the real writers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from app.db.campaigns import Delivery
from app.services.analytics.rollups import rebuild, whole_days
from app.services.bounces import actions
from app.services.bounces.classifier import classify_reply
from app.services.campaigns.batches import Written
from app.services.delivery_servers import create_server
from app.services.tracking.conversions import rotate_postback_secret
from app.services.tracking.tokens import DeliveryRef, delivery_token, tracking_keys
from app.settings import get_settings
from tests.integration.tracking.helpers import drain_all, hrefs, path_of, pixel, sent_campaign
from tests.integration.tracking.offer_helpers import postback

TABLES = {"performance_hours": "hour", "performance_days": "day", "conversion_days": "day"}


async def _rows(table: str, workspace_id: int | None = None) -> list[dict]:
    where = f"WHERE workspace_id = {int(workspace_id)}" if workspace_id else ""
    return await Delivery.raw(f"SELECT * FROM {table} {where} ORDER BY 1, 2, 3, 4, 5, 6")


async def _all_rollups(workspace_id: int | None = None) -> dict[str, list[dict]]:
    return {table: await _rows(table, workspace_id) for table in TABLES}


async def _write_back(redis, sent, servers: list[int]) -> None:
    """The send path's write-back: four sent (two after two deferrals each), one failed; the sixth stays queued."""
    ids = [delivery["id"] for delivery in sent.deliveries]
    await Delivery.update({Delivery.status: "claimed", Delivery.sent_at: None, Delivery.attempts: 0}).where(
        Delivery.id.is_in(ids))
    await Delivery.update({Delivery.attempts: 2}).where(Delivery.id.is_in(ids[2:4]))
    written = Written()
    for n, delivery_id in enumerate(ids[:4]):
        written.add(delivery_id, "sent", server_id=servers[n % 2], group="gmail" if n < 2 else "yahoo",
                    attempted=1, answer="250 ok", provider=f"p-{n}")
    written.add(ids[4], "failed", server_id=servers[0], group="gmail", attempted=1, answer="550 no such user")
    written.add(ids[5], "queued", wait=60)
    # No row is deferred here, so the queue is never asked to send a batch.
    await written.store(redis, None, sent.workspace["id"], sent.campaign["id"])  # type: ignore[arg-type]


async def _engage(client, redis, sent) -> None:
    """Opens (twice for one person), a click, an unsubscribe, a bounce, a complaint and two conversions."""
    first, second, third = sent.deliveries[:3]
    for delivery in (first, first, second):
        assert (await client.get(path_of(pixel(sent.message(delivery))))).status_code == 200
    link = next(href for href in hrefs(sent.message(first)) if "/c/" in href)
    assert (await client.get(path_of(link))).status_code in (302, 303, 307)
    await drain_all(redis)
    campaign = sent.campaign
    token = delivery_token(tracking_keys(get_settings()), DeliveryRef(
        campaign["workspace_id"], campaign["id"], campaign["snapshot_version"], 0, second["id"]))
    answer = await client.post(f"/u/{token}", data={"List-Unsubscribe": "One-Click"})
    assert answer.status_code == 200, answer.text
    workspace_id = sent.workspace["id"]
    await actions.record_answers(workspace_id, [
        (third["id"], classify_reply(550, "5.1.1 <x@example.org>: Recipient address rejected: User unknown")),
        (sent.deliveries[4]["id"], classify_reply(554, "5.7.1 blocked using Spamhaus"))])
    key = await rotate_postback_secret(workspace_id)
    for n, (delivery, payout) in enumerate(((first, "12.50"), (third, "3"))):
        response = await postback(client, key=key, transaction_id=f"tx-{n}", sub3=delivery["id"], payout=payout,
                                  offer_id="77")
        assert response.json()["status"] == "recorded", response.text


async def _seeded(client, redis) -> tuple[dict, list[int]]:
    sent = await sent_campaign(recipients=6)
    workspace_id = sent.workspace["id"]
    servers = [(await create_server(workspace_id, "capture", {"name": name}))["id"] for name in ("Alpha", "Beta")]
    await _write_back(redis, sent, servers)
    await _engage(client, redis, sent)
    return sent.workspace, servers


def _totals(rows: list[dict]) -> dict[str, object]:
    names = ("sent", "failed", "deferred", "hard", "block", "complaints", "human_opens", "unique_opens",
             "machine_opens", "human_clicks", "bot_clicks", "unique_clicks", "unsubscribes", "conversions",
             "revenue")
    return {name: sum(row[name] for row in rows) for name in names}


async def test_the_writers_rollups_equal_the_recomputation_for_hours_and_days(client, redis) -> None:
    _, servers = await _seeded(client, redis)
    kept = await _all_rollups()

    totals = _totals(kept["performance_days"])
    assert (totals["sent"], totals["failed"], totals["deferred"]) == (4, 1, 4)
    assert (totals["hard"], totals["block"], totals["conversions"], totals["revenue"]) == (1, 1, 2, Decimal("15.5"))
    assert totals["human_opens"] + totals["machine_opens"] == 3
    assert totals["human_clicks"] + totals["bot_clicks"] == 1
    assert totals["unsubscribes"] == 1
    assert _totals(kept["performance_hours"]) == totals
    assert {row["server_id"] for row in kept["performance_days"]} == set(servers)
    assert sum(row["revenue"] for row in kept["conversion_days"]) == Decimal("15.5")

    now = datetime.now(UTC)
    for table in TABLES:
        await Delivery.raw(f"DELETE FROM {table}")
    await rebuild(now - timedelta(days=2), now + timedelta(hours=1))
    assert await _all_rollups() == kept

    await rebuild(now - timedelta(days=2), now + timedelta(hours=1))
    assert await _all_rollups() == kept, "a second rebuild changed the rollups"


async def test_a_rebuild_of_one_workspace_leaves_the_others_alone(client, redis) -> None:
    workspace, _ = await _seeded(client, redis)
    other = await sent_campaign(recipients=1)
    await Delivery.raw("INSERT INTO performance_days (workspace_id, day, sent) VALUES ({}, current_date, 99)",
                       other.workspace["id"])
    mine = await _all_rollups(workspace["id"])

    now = datetime.now(UTC)
    await rebuild(now - timedelta(days=1), now + timedelta(hours=1), workspace["id"])

    assert await _all_rollups(workspace["id"]) == mine
    [theirs] = await _rows("performance_days", other.workspace["id"])
    assert theirs["sent"] == 99


def test_a_range_widens_to_the_whole_utc_days_it_touches() -> None:
    since = datetime(2026, 12, 1, 22, 30, tzinfo=UTC)
    assert whole_days(since, datetime(2026, 12, 2, 0, 0, tzinfo=UTC)) == [datetime(2026, 12, 1, tzinfo=UTC)]
    assert whole_days(since, datetime(2026, 12, 2, 0, 1, tzinfo=UTC)) == [
        datetime(2026, 12, 1, tzinfo=UTC), datetime(2026, 12, 2, tzinfo=UTC)]
