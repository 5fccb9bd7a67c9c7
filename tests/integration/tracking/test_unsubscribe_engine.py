"""An unsubscribe through a sent message's List-Unsubscribe link is honoured by the send engine at once:
every message to that person that no batch has claimed yet is skipped, in every campaign."""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import pytest
from aiosmtpd.smtp import SMTP as SMTPServer
from aiosmtpd.smtp import Envelope, Session

from app.db.campaigns import Delivery
from app.db.inbox import CapturedMessage
from app.redis_client import get_redis
from app.services import campaigns, opt_outs
from app.services.campaigns.batches import NOT_MAILABLE
from app.services.inbox import captured_message
from app.services.sending import Adapters
from app.services.subscriptions import unsubscribe_url
from app.settings import get_settings
from tests.factories import make_list, make_subscribers, make_workspace
from tests.integration.campaigns.helpers import PERSON, LocalQueue, ready_campaign, smtp_server, wait_for
from tests.integration.campaigns.recorder import RecordingHandler, RecordingServer

HEADER_LINK = re.compile(r"<(https?://[^>]+/u/[^>]+)>")


@pytest.fixture
async def adapters() -> AsyncIterator[Adapters]:
    pool = Adapters()
    yield pool
    await pool.aclose()


async def _header_link(workspace_id: int, email: str) -> tuple[str, dict[str, str]]:
    row = await CapturedMessage.select(CapturedMessage.id).where(CapturedMessage.rcpt_to == email).first()
    message = await captured_message(workspace_id, row["id"])
    headers = dict(message.headers)
    return HEADER_LINK.search(headers["List-Unsubscribe"]).group(1), headers


async def test_messages_not_yet_claimed_are_skipped_once_the_person_unsubscribes(client, redis, adapters):
    workspace = await make_workspace()
    newsletter = await make_list(workspace, "Newsletter")
    people = await make_subscribers(newsletter, 3)
    queue = LocalQueue()
    first = await ready_campaign(workspace["id"], [newsletter["id"]])
    await campaigns.launch(redis, queue, workspace["id"], first["id"], PERSON)
    await queue.drain(redis, adapters)
    link, headers = await _header_link(workspace["id"], people[0]["email"])
    # The tests' BASE_URL is http: the message says how to unsubscribe, but promises no one-click.
    assert "List-Unsubscribe-Post" not in headers
    second = await campaigns.duplicate(workspace["id"], first["id"])
    await campaigns.launch(redis, queue, workspace["id"], second["id"], PERSON)
    await campaigns.materialise(redis, queue, *queue.materialising.pop())
    assert await Delivery.count().where(Delivery.campaign_id == second["id"], Delivery.status == "queued") == 3

    answer = await client.post(urlsplit(link).path, data={"List-Unsubscribe": "One-Click"})
    await queue.drain(redis, adapters)

    assert answer.status_code == 200
    rows = {row["email"]: row for row in await Delivery.select().where(Delivery.campaign_id == second["id"])}
    assert (rows[people[0]["email"]]["status"], rows[people[0]["email"]]["last_answer"]) == ("cancelled", NOT_MAILABLE)
    assert {rows[p["email"]]["status"] for p in people[1:]} == {"sent"}
    received = await CapturedMessage.select(CapturedMessage.rcpt_to).where(
        CapturedMessage.rcpt_to == people[0]["email"])
    assert len(received) == 1, "only the first campaign's message reached the person who unsubscribed"
    finished = await campaigns.get_campaign(workspace["id"], second["id"])
    assert (finished["sent_count"], finished["skipped_count"]) == (2, 1)


@dataclass
class HoldingHandler(RecordingHandler):
    """Holds the first message in DATA until told to go on: the batch is claimed and being sent meanwhile."""

    arrived: threading.Event = field(default_factory=threading.Event)
    go_on: threading.Event = field(default_factory=threading.Event)
    # The recipients of the message held.
    held: list[str] = field(default_factory=list)

    async def handle_DATA(self, server: SMTPServer, session: Session, envelope: Envelope) -> str:
        if not self.arrived.is_set():
            self.held = list(envelope.rcpt_tos)
            self.arrived.set()
            await asyncio.to_thread(self.go_on.wait, 30)
        return await super().handle_DATA(server, session, envelope)


async def test_a_person_who_opts_out_while_their_batch_is_being_sent_is_not_mailed(client, redis, adapters):
    workspace = await make_workspace()
    newsletter = await make_list(workspace, "Newsletter")
    people = await make_subscribers(newsletter, 3)
    handler = HoldingHandler()
    with RecordingServer(handler) as server:
        # One connection: the messages go one after another, the last one well after the opt-out.
        await smtp_server(workspace["id"], server.port, pool_size=1)
        campaign = await ready_campaign(workspace["id"], [newsletter["id"]])
        queue = LocalQueue()
        await campaigns.launch(redis, queue, workspace["id"], campaign["id"], PERSON)
        await campaigns.materialise(redis, queue, *queue.materialising.pop())
        sending = asyncio.create_task(queue.drain(redis, adapters))
        assert await asyncio.to_thread(handler.arrived.wait, 30)
        assert await Delivery.count().where(Delivery.campaign_id == campaign["id"], Delivery.status == "claimed") == 3

        # Whichever message the batch sent first is held; one still waiting behind it opts out.
        leaving = next(person for person in people if person["email"] not in handler.held)
        staying = [person for person in people if person is not leaving]
        link = unsubscribe_url(get_settings(), workspace["id"], leaving["email"])
        answer = await client.post(urlsplit(link).path, data={"List-Unsubscribe": "One-Click"})
        # The announcement travels through Redis pub/sub: the held message goes on once the sending
        # process has heard it (a message already on the wire in that moment would still go).
        watch = await opt_outs.watch(get_redis)

        async def heard() -> bool:
            return watch.opted_out(workspace["id"], newsletter["id"], leaving["email"], 0.0)

        await wait_for(heard, 10, what="the opt-out heard by the sending process")
        handler.go_on.set()
        await sending

    assert answer.status_code == 200
    rows = {row["email"]: row for row in await Delivery.select().where(Delivery.campaign_id == campaign["id"])}
    assert (rows[leaving["email"]]["status"], rows[leaving["email"]]["last_answer"]) == ("cancelled", NOT_MAILABLE)
    assert {rows[p["email"]]["status"] for p in staying} == {"sent"}
    assert leaving["email"] not in handler.recipients and len(handler.recipients) == 2
