"""Transactional messages' bounces, complaints, opens and clicks reach webhooks, naming the message (not the
stream's internal campaign) with its metadata and tags."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from app.services.webhooks import endpoints, producers
from tests.integration.transactional.helpers import LocalMessageQueue, raw_message, sender
from tests.integration.webhooks.helpers import deliveries


@pytest.fixture
def queue(monkeypatch: pytest.MonkeyPatch) -> LocalMessageQueue:
    from app.routes.api import messages

    local = LocalMessageQueue()
    monkeypatch.setattr(messages, "QUEUE", local)
    return local


@pytest.fixture
async def adapters() -> Any:
    from app.services.sending import Adapters

    pool = Adapters()
    yield pool
    await pool.aclose()


def _payloads(rows: list[dict]) -> dict[str, dict]:
    return {row["kind"]: json.loads(row["payload"]) for row in rows}


async def _sent(client, queue, adapters, caller, to: str) -> int:
    answer = await client.post("/api/v1/messages", headers=caller.headers, json=raw_message(
        to, metadata={"order": "A-7"}, tags=["receipt"]))
    assert answer.status_code == 202, answer.text
    from app.redis_client import get_redis

    await queue.drain(get_redis(), adapters)
    return answer.json()["id"]


async def test_a_transactional_bounce_and_complaint_are_published_with_the_message_metadata_and_tags(
        client, queue, adapters) -> None:
    caller = await sender(sandbox=True)
    await endpoints.create_endpoint(caller.workspace["id"], {"url": "https://hooks.example.com/in",
                                                            "events": ["message.bounced", "message.complained"]})
    bounced = await _sent(client, queue, adapters, caller, "bounce@simulator.ignite.test")
    complained = await _sent(client, queue, adapters, caller, "complaint@simulator.ignite.test")
    payloads = _payloads(await deliveries(caller.workspace))
    assert set(payloads) == {"message.bounced", "message.complained"}
    assert payloads["message.bounced"]["message_id"] == bounced
    assert payloads["message.complained"]["message_id"] == complained
    for payload in payloads.values():
        assert payload["transactional"] is True and payload["campaign_id"] is None
        assert (payload["metadata"], payload["tags"]) == ({"order": "A-7"}, ["receipt"])


async def test_a_transactional_open_and_click_name_the_message_not_the_stream_campaign(
        client, queue, adapters) -> None:
    caller = await sender(sandbox=True)
    workspace_id = caller.workspace["id"]
    await endpoints.create_endpoint(workspace_id, {"url": "https://hooks.example.com/in",
                                                   "events": ["message.opened", "message.clicked"]})
    message_id = await _sent(client, queue, adapters, caller, "ann@example.com")
    at = datetime.now(UTC)
    await producers.engagement([(1, workspace_id, 0, message_id, "open", None, None, None, at),
                                (1, workspace_id, 0, message_id, "click", 2, "", None, at)])
    payloads = _payloads(await deliveries(caller.workspace))
    assert set(payloads) == {"message.opened", "message.clicked"}
    for payload in payloads.values():
        assert (payload["message_id"], payload["delivery_id"], payload["email"]) == (
            message_id, message_id, "ann@example.com")
        assert payload["campaign_id"] is None and payload["transactional"] is True
        assert "subscriber_id" in payload
        assert (payload["metadata"], payload["tags"]) == ({"order": "A-7"}, ["receipt"])
    assert payloads["message.clicked"]["link"] == 2 and "url" not in payloads["message.clicked"]
