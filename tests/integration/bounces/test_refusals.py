"""A server's permanent refusal during a send is classified like a bounce report and acted on."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from app.db.campaigns import Delivery
from app.redis_client import get_redis
from app.services import campaigns
from app.services.sqlparams import fetch_positional
from app.services.throttling.adaptive import AimdPolicy, Outcomes, window_outcomes
from tests.factories import login, make_list, make_subscribers, make_user, make_workspace
from tests.integration.campaigns.helpers import PERSON, LocalQueue, ready_campaign, smtp_server
from tests.integration.campaigns.recorder import RecordingHandler, RecordingServer

USER_UNKNOWN = "550 5.1.1 <sub0@example.com>: Recipient address rejected: User unknown in virtual mailbox table"
BLOCKED = "554 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using zen.spamhaus.org"


@pytest.fixture
async def adapters() -> AsyncIterator[Any]:
    from app.services.sending import Adapters

    pool = Adapters()
    yield pool
    await pool.aclose()


async def _refused_once(refusal: str, adapters: Any) -> tuple[dict, dict, list[dict]]:
    """A campaign to three subscribers whose server refuses the first message with `refusal`."""
    workspace = await make_workspace()
    mailing_list = await make_list(workspace)
    await make_subscribers(mailing_list, 3)
    handler = RecordingHandler(refusal=refusal, refuse_left=1)
    with RecordingServer(handler) as recorder:
        server = await smtp_server(workspace["id"], recorder.port, pool_size=1)
        queue, redis = LocalQueue(), get_redis()
        campaign = await ready_campaign(workspace["id"], [mailing_list["id"]])
        await campaigns.launch(redis, queue, workspace["id"], campaign["id"], PERSON)
        await queue.drain(redis, adapters)
    deliveries = await Delivery.select().where(Delivery.campaign_id == campaign["id"]).order_by(Delivery.id)
    return workspace, server, deliveries


async def _statuses(workspace_id: int) -> dict[str, str]:
    rows = await fetch_positional("SELECT email, status FROM subscribers WHERE workspace_id = $1", [workspace_id])
    return {row["email"]: row["status"] for row in rows}


async def _bounces(workspace_id: int) -> list[dict]:
    return await fetch_positional("SELECT * FROM bounces WHERE workspace_id = $1", [workspace_id])


async def _aimd(server_id: int, group: str) -> Outcomes:
    return await window_outcomes(get_redis(), server_id, group, AimdPolicy(ceiling=1000.0))


async def test_an_unknown_user_refused_while_sending_is_a_hard_bounce_that_suppresses_the_address(adapters):
    workspace, server, deliveries = await _refused_once(USER_UNKNOWN, adapters)

    refused = [row for row in deliveries if row["status"] == "failed"]
    assert len(refused) == 1 and sorted(row["status"] for row in deliveries) == ["failed", "sent", "sent"]
    [bounce] = await _bounces(workspace["id"])
    assert (bounce["category"], bounce["status"], bounce["delivery_id"]) == ("hard", "5.1.1", refused[0]["id"])
    assert bounce["report_id"] is None and bounce["server_id"] == server["id"]
    statuses = await _statuses(workspace["id"])
    assert statuses[refused[0]["email"]] == "bounced"
    assert sorted(statuses.values()) == ["bounced", "confirmed", "confirmed"]
    # The address says nothing about the server's sending rate.
    assert (await _aimd(server["id"], refused[0]["domain_group"])).bounced == 0


async def test_a_block_while_sending_slows_the_server_and_suppresses_nobody(adapters):
    workspace, server, deliveries = await _refused_once(BLOCKED, adapters)

    refused = [row for row in deliveries if row["status"] == "failed"]
    [bounce] = await _bounces(workspace["id"])
    assert (bounce["category"], bounce["delivery_id"]) == ("block", refused[0]["id"])
    assert set((await _statuses(workspace["id"])).values()) == {"confirmed"}
    assert (await _aimd(server["id"], refused[0]["domain_group"])).bounced == 1


async def test_the_send_log_shows_what_became_of_a_message_that_bounced(adapters, client):
    workspace, _, deliveries = await _refused_once(USER_UNKNOWN, adapters)
    user = await make_user(workspace)
    await login(client, user["email"])
    refused = next(row for row in deliveries if row["status"] == "failed")
    page = await client.get(f"/mailing/campaigns/{refused['campaign_id']}/log")
    assert page.status_code == 200
    assert page.text.count('data-testid="log-bounce"') == 1 and "then hard" in page.text
