"""Real worker processes through a Redis restart, and through an SES account answering "throttled" for a while.

As in test_reliability.py, nothing sleeps: every wait is a condition with a deadline, and the test runs the
reaper (which the scheduler runs every minute) as often as it polls.
"""

from __future__ import annotations

from app.db.campaigns import Delivery
from app.services import campaigns
from app.services.delivery_servers import create_server
from tests.factories import make_list, make_subscribers, make_workspace
from tests.integration.campaigns.helpers import PERSON, ready_campaign, smtp_server, wait_for
from tests.integration.campaigns.recorder import RecordingServer
from tests.integration.campaigns.redis_restart import restart_redis_under
from tests.integration.campaigns.scripted_ses import ScriptedSes

RECIPIENTS = 4_000
# Throttled messages come back after a second instead of a minute, so the test needs no long wait.
QUICK_RETRY = {"SEND_THROTTLED_DEFER_SECONDS": "1"}


def _queue():
    from app.tasks.sending import QUEUE

    return QUEUE


async def _audience(workspace: dict, recipients: int) -> list[int]:
    mailing_list = await make_list(workspace)
    await make_subscribers(mailing_list, recipients)
    return [mailing_list["id"]]


async def _expected_ids(campaign: dict) -> set[str]:
    rows = await Delivery.select(Delivery.id).where(Delivery.campaign_id == campaign["id"])
    return {f"<{row['id']}@news.example.com>" for row in rows}


def _reaping_until_sent(redis, workspace: dict, campaign: dict):
    async def sent() -> bool:
        await campaigns.reap(redis, _queue(), requeue_after=3)
        return (await campaigns.get_campaign(workspace["id"], campaign["id"]))["status"] == "sent"

    return sent


async def test_a_redis_restart_that_lost_its_data_mid_campaign_loses_and_doubles_nothing(redis, start_worker):
    workspace = await make_workspace()
    lists = await _audience(workspace, RECIPIENTS)
    with RecordingServer() as recorder:
        await smtp_server(workspace["id"], recorder.port, pool_size=8)
        campaign = await ready_campaign(workspace["id"], lists)
        start_worker(), start_worker()
        await campaigns.launch(redis, _queue(), workspace["id"], campaign["id"], PERSON)

        async def under_way() -> bool:
            return recorder.handler.received >= RECIPIENTS // 4

        await wait_for(under_way, 60, every=0.05, what="a quarter of the messages")
        # Queued batches, acceptances, counters and buckets are all gone: PostgreSQL alone knows what is left.
        await restart_redis_under(redis, lose_data=True)
        assert recorder.handler.received < RECIPIENTS
        await wait_for(_reaping_until_sent(redis, workspace, campaign), 120, every=0.5, what="the campaign to be sent")
        received = recorder.handler.counts()
    assert set(received) == await _expected_ids(campaign), "a recipient was lost"
    assert max(received.values()) == 1, f"{sum(n - 1 for n in received.values())} messages were sent twice"
    row = await campaigns.get_campaign(workspace["id"], campaign["id"])
    assert (row["sent_count"], row["failed_count"]) == (RECIPIENTS, 0)


async def test_ses_throttling_for_a_while_still_gets_every_recipient_exactly_one_message(redis, start_worker):
    workspace = await make_workspace()
    lists = await _audience(workspace, RECIPIENTS // 2)
    throttled_requests = RECIPIENTS // 2
    with ScriptedSes(throttle=throttled_requests) as ses:
        await create_server(workspace["id"], "ses", {
            "name": "SES", "setting_region": "eu-west-1", "setting_endpoint_url": ses.url,
            "setting_access_key_id": "testing", "setting_secret_access_key": "testing", "weight": "100"})
        campaign = await ready_campaign(workspace["id"], lists)
        start_worker(QUICK_RETRY)
        await campaigns.launch(redis, _queue(), workspace["id"], campaign["id"], PERSON)
        await wait_for(_reaping_until_sent(redis, workspace, campaign), 120, every=0.5, what="the campaign to be sent")
        received = ses.counts()
        assert ses.throttled == throttled_requests
    assert set(received) == await _expected_ids(campaign), "a throttled recipient was skipped"
    assert max(received.values()) == 1
    rows = await Delivery.select(Delivery.status, Delivery.attempts).where(Delivery.campaign_id == campaign["id"])
    assert {row["status"] for row in rows} == {"sent"}
    # "Slow down" is the account's answer, not the message's: no attempt is spent on it.
    assert {row["attempts"] for row in rows} == {1}
