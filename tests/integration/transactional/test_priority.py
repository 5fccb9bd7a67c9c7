"""A transactional message goes out while a large campaign's batches fill the send queue: it waits for none of them.

Real worker processes, as `ignite worker` starts them: the general ones, and the transactional queue's own.
Nothing sleeps in the test; the SMTP server takes a little time per message so the campaign lasts.
"""

from __future__ import annotations

import asyncio

from aiosmtpd.smtp import SMTP as SMTPServer
from aiosmtpd.smtp import Envelope, Session

from app.db.campaigns import Delivery
from app.services import campaigns
from tests.factories import make_list, make_subscribers
from tests.integration.campaigns.helpers import PERSON, ready_campaign, smtp_server, wait_for
from tests.integration.campaigns.recorder import RecordingHandler, RecordingServer
from tests.integration.transactional.helpers import raw_message, sender

RECIPIENTS = 3_000


class SlowHandler(RecordingHandler):
    """Takes 10 ms per message, as a remote server does: the campaign keeps its batches queued for seconds."""

    async def handle_DATA(self, server: SMTPServer, session: Session, envelope: Envelope) -> str:
        await asyncio.sleep(0.01)
        return await super().handle_DATA(server, session, envelope)


async def test_a_transactional_message_is_sent_while_a_large_campaign_is_still_queued(
        client, redis, start_workers) -> None:
    from app.tasks.sending import QUEUE

    caller = await sender()
    workspace_id = caller.workspace["id"]
    mailing_list = await make_list(caller.workspace)
    await make_subscribers(mailing_list, RECIPIENTS)
    with RecordingServer(SlowHandler()) as smtp:
        await smtp_server(workspace_id, smtp.port, pool_size=2)
        campaign = await ready_campaign(workspace_id, [mailing_list["id"]])
        start_workers()
        await campaigns.launch(redis, QUEUE, workspace_id, campaign["id"], PERSON)

        async def under_way() -> bool:
            return smtp.handler.received >= 50

        await wait_for(under_way, 60, every=0.05, what="the campaign to be under way")
        answer = await client.post("/api/v1/messages", headers=caller.headers, json=raw_message(
            "receipt@example.com", data={"order": "R-1"}))
        assert answer.status_code == 202

        async def arrived() -> bool:
            return "receipt@example.com" in smtp.handler.recipients

        await wait_for(arrived, 60, every=0.02, what="the transactional message")
        campaign_sent = sum(1 for recipient in smtp.handler.recipients if recipient != "receipt@example.com")
        waiting = await Delivery.count().where(Delivery.campaign_id == campaign["id"],
                                               Delivery.status.is_in(["queued", "claimed", "deferred"]))
    assert campaign_sent < RECIPIENTS // 2, "the message waited for the campaign"
    assert waiting > RECIPIENTS // 2
