"""The engine in the test process: audience, materialising, batches, lifecycle, retries, the reaper."""

from __future__ import annotations

from app.db.campaigns import Delivery
from app.services import campaigns
from tests.factories import make_list, make_subscribers, make_workspace
from tests.integration.campaigns.helpers import PERSON, ready_campaign, smtp_server
from tests.integration.campaigns.recorder import RecordingServer


async def _deliveries(campaign_id: int) -> list[dict]:
    return await Delivery.select().where(Delivery.campaign_id == campaign_id).order_by(Delivery.id)


async def test_a_person_on_two_lists_gets_one_message(redis, queue, adapters):
    workspace = await make_workspace()
    first, second = await make_list(workspace), await make_list(workspace)
    await make_subscribers(first, 30)
    await make_subscribers(second, 20)  # sub1..sub20 are on both lists
    await make_subscribers(second, 5, prefix="only")
    with RecordingServer() as smtp:
        await smtp_server(workspace["id"], smtp.port)
        campaign = await ready_campaign(workspace["id"], [first["id"], second["id"]])
        assert await campaigns.recipient_count(workspace["id"], campaigns.Audience.of(campaign)) == 35
        await campaigns.launch(redis, queue, workspace["id"], campaign["id"], PERSON)
        await queue.drain(redis, adapters)
        received = smtp.handler.counts()
    rows = await _deliveries(campaign["id"])
    assert len(rows) == 35 and {row["status"] for row in rows} == {"sent"}
    assert len(received) == 35 and set(received.values()) == {1}
    assert sorted(smtp.handler.recipients) == sorted(row["email"] for row in rows)
    assert set(received) == {f"<{row['id']}@news.example.com>" for row in rows}
    finished = await campaigns.get_campaign(workspace["id"], campaign["id"])
    assert finished["status"] == "sent"
    assert (finished["recipient_count"], finished["sent_count"]) == (35, 35)
