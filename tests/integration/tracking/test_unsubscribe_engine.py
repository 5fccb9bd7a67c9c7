"""An unsubscribe through a sent message's List-Unsubscribe link is honoured by the send engine at once:
every message to that person that no batch has claimed yet is skipped, in every campaign."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import pytest

from app.db.campaigns import Delivery
from app.db.inbox import CapturedMessage
from app.services import campaigns
from app.services.campaigns.batches import NOT_MAILABLE
from app.services.inbox import captured_message
from app.services.sending import Adapters
from tests.factories import make_list, make_subscribers, make_workspace
from tests.integration.campaigns.helpers import PERSON, LocalQueue, ready_campaign

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
