"""Redis restarts: what the append-only file keeps, and quotas rebuilt from the deliveries when Redis lost them.

Each test restarts the session's Redis for real and leaves it running; the app's clients reconnect by
themselves (redis-py retries a dropped connection).
"""

from __future__ import annotations

import asyncio
import time

import pytest

from app.db.campaigns import Delivery
from app.db.delivery import DeliveryServer
from app.services import campaigns
from app.services.throttling import DAY, Bucket, acquire, tokens_left
from app.services.warmup_plans import create_plan
from tests.factories import make_list, make_subscribers, make_workspace
from tests.integration.campaigns.helpers import PERSON, ready_campaign, smtp_server
from tests.integration.campaigns.recorder import RecordingServer
from tests.integration.campaigns.redis_restart import append_only_file, restart_redis_under

CAP = 10


async def test_the_embedded_redis_writes_an_append_only_file_every_second(redis):
    config = await redis.config_get("append*")
    assert (config["appendonly"], config["appendfsync"]) == ("yes", "everysec")


async def test_buckets_outlive_a_redis_crash_through_the_append_only_file(redis):
    bucket = Bucket("throttle:server:999:day", 100, DAY)
    assert (await acquire(redis, [bucket], 30)).granted
    await redis.set("test:written-after", "1")
    deadline = time.monotonic() + 10
    # everysec: the file has the write within about a second; waited for as a condition, not a sleep.
    while b"test:written-after" not in append_only_file().read_bytes():
        assert time.monotonic() < deadline, "the append-only file never got the write"
        await asyncio.sleep(0.05)
    await restart_redis_under(redis, crash=True)
    assert (await tokens_left(redis, [bucket]))[bucket.key] <= 71


async def _server(workspace_id: int, port: int, how: str) -> dict:
    if how == "daily quota":
        return await smtp_server_with(workspace_id, port, daily_quota=str(CAP))
    server = await smtp_server(workspace_id, port)
    plan = await create_plan(workspace_id, {"name": "Tiny", "daily_caps": f"{CAP}, {CAP * 10}"})
    await DeliveryServer.update({DeliveryServer.warmup_plan_id: plan["id"], DeliveryServer.warmup_day: 1}).where(
        DeliveryServer.id == server["id"])
    return server


async def smtp_server_with(workspace_id: int, port: int, **values: str) -> dict:
    from app.services.delivery_servers import create_server

    return await create_server(workspace_id, "smtp", {
        "name": "Capped", "setting_host": "127.0.0.1", "setting_port": str(port), "setting_security": "none",
        "setting_pool_size": "2", "weight": "100", **values})


async def _sent(campaign_id: int) -> int:
    return await Delivery.count().where(Delivery.campaign_id == campaign_id, Delivery.status == "sent")


@pytest.mark.parametrize("how", ["daily quota", "warm-up cap"])
async def test_after_redis_lost_its_data_a_server_sends_only_what_is_left_of_its_day(redis, queue, adapters, how):
    workspace = await make_workspace()
    morning, evening = await make_list(workspace), await make_list(workspace)
    await make_subscribers(morning, 6, prefix="morning")
    await make_subscribers(evening, 8, prefix="evening")
    with RecordingServer() as smtp:
        await _server(workspace["id"], smtp.port, how)
        first = await ready_campaign(workspace["id"], [morning["id"]], name="Morning")
        await campaigns.launch(redis, queue, workspace["id"], first["id"], PERSON)
        await queue.drain(redis, adapters)
        assert await _sent(first["id"]) == 6

        await restart_redis_under(redis, lose_data=True)
        assert await redis.dbsize() == 0

        second = await campaigns.create_draft(workspace["id"], {
            "name": "Evening", "from_email": first["from_email"], "template_id": str(first["template_id"]),
            "list_ids": [str(evening["id"])]})
        await campaigns.launch(redis, queue, workspace["id"], second["id"], PERSON)
        await queue.drain(redis, adapters)
        assert await _sent(second["id"]) == CAP - 6
        assert smtp.handler.received == CAP
    waiting = await Delivery.select(Delivery.status, Delivery.last_answer).where(
        Delivery.campaign_id == second["id"], Delivery.status != "sent")
    assert len(waiting) == 4 and {row["status"] for row in waiting} == {"deferred"}
    assert all("day" in row["last_answer"] for row in waiting)
