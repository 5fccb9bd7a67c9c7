"""The send path puts each delivery's VERP return path on the envelope of an SMTP server's messages."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from app.db.campaigns import Delivery
from app.db.delivery import DeliveryServer
from app.redis_client import get_redis
from app.services import campaigns
from app.services.bounces.return_paths import delivery_from_address
from tests.factories import make_list, make_subscribers, make_workspace
from tests.integration.campaigns.helpers import PERSON, LocalQueue, ready_campaign, smtp_server
from tests.integration.campaigns.recorder import RecordingHandler, RecordingServer


@pytest.fixture
async def adapters() -> AsyncIterator[Any]:
    from app.services.sending import Adapters

    pool = Adapters()
    yield pool
    await pool.aclose()


async def _sent_through(bounce_address: str, adapters: Any) -> tuple[dict, dict[str, str], list[dict]]:
    workspace = await make_workspace()
    mailing_list = await make_list(workspace)
    await make_subscribers(mailing_list, 3)
    handler = RecordingHandler()
    with RecordingServer(handler) as recorder:
        server = await smtp_server(workspace["id"], recorder.port)
        await DeliveryServer.update({DeliveryServer.bounce_address: bounce_address}).where(
            DeliveryServer.id == server["id"])
        queue, redis = LocalQueue(), get_redis()
        campaign = await ready_campaign(workspace["id"], [mailing_list["id"]])
        await campaigns.launch(redis, queue, workspace["id"], campaign["id"], PERSON)
        await queue.drain(redis, adapters)
    deliveries = await Delivery.select().where(Delivery.campaign_id == campaign["id"]).order_by(Delivery.id)
    return workspace, handler.senders, deliveries


async def test_each_message_carries_its_own_delivery_in_the_servers_bounce_address(adapters) -> None:
    workspace, senders, deliveries = await _sent_through("returns@bounces.news.example.com", adapters)

    assert [row["status"] for row in deliveries] == ["sent"] * 3
    assert len(senders) == 3 and len(set(senders.values())) == 3
    named = sorted(delivery_from_address(sender) for sender in senders.values())
    assert named == [(workspace["id"], row["id"]) for row in deliveries]
    assert all(sender.startswith("returns+") and sender.endswith("@bounces.news.example.com")
               for sender in senders.values())


async def test_without_a_bounce_address_the_sender_is_left_as_it_was(adapters) -> None:
    _, senders, deliveries = await _sent_through("", adapters)

    assert [row["status"] for row in deliveries] == ["sent"] * 3
    assert set(senders.values()) == {"offers@news.example.com"}
