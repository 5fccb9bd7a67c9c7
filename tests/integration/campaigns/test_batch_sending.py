"""The batch path of sending: tokens for the whole batch, failover, deferral, refunds, and what the breaker hears."""

from __future__ import annotations

from app.embedded import free_port
from app.esp.base import OutgoingMessage
from app.services.delivery_servers import create_server
from app.services.routing import quota_buckets, routing_context
from app.services.sending_batches import BatchItem, Verdict, send_batch
from app.services.throttling import BreakerPolicy, breaker_status, tokens_left
from tests.factories import make_workspace
from tests.integration.campaigns.recorder import RecordingHandler, RecordingServer


def _items(workspace_id: int, addresses: list[str]) -> list[BatchItem]:
    items = []
    for key, address in enumerate(addresses, start=1):
        raw = f"From: a@example.com\r\nTo: {address}\r\nMessage-ID: <{key}@example.com>\r\nSubject: hi\r\n\r\nhi\r\n"
        message = OutgoingMessage(workspace_id, "a@example.com", (address,), raw.encode(),
                                  message_id=f"<{key}@example.com>")
        items.append(BatchItem(key, address, message.message_id, lambda message=message: message))
    return items


def _server(name: str, port: int, **numbers: str) -> dict:
    return {"name": name, "setting_host": "127.0.0.1", "setting_port": str(port), "setting_security": "none",
            "weight": "100", **numbers}


async def test_refused_and_invalid_recipients_never_count_against_the_breaker(redis, adapters):
    workspace = await make_workspace()
    handler = RecordingHandler()
    with RecordingServer(handler) as smtp:
        server = await create_server(workspace["id"], "smtp", _server("Sink", smtp.port))
        original = handler.handle_DATA

        async def refuse_some(server_, session, envelope):
            if envelope.rcpt_tos[0].startswith("gone"):
                return "550 5.1.1 No such user"
            return await original(server_, session, envelope)

        handler.handle_DATA = refuse_some
        addresses = [f"gone{i}@example.com" for i in range(8)] + ["bad address@@example.com", "ok@example.com"]
        outcomes = await send_batch(redis, workspace["id"], _items(workspace["id"], addresses), adapters)
    assert [o.verdict for o in outcomes] == [Verdict.FAILED] * 9 + [Verdict.SENT]
    assert outcomes[0].answer == "550 5.1.1 No such user"
    assert outcomes[8].answer.startswith("invalid address")
    status = await breaker_status(redis, server["id"], BreakerPolicy())
    assert status.allowed and status.failures == 0


async def test_tokens_come_back_when_the_server_cannot_be_reached(redis, adapters):
    workspace = await make_workspace()
    dead = await create_server(workspace["id"], "smtp", _server("Dead", free_port(), hourly_quota="100"))
    outcomes = await send_batch(redis, workspace["id"], _items(workspace["id"], ["a@example.com", "b@example.com"]),
                                adapters, defer_seconds=30)
    assert {o.verdict for o in outcomes} == {Verdict.DEFERRED} and {o.wait for o in outcomes} == {30}
    buckets, _ = quota_buckets((await routing_context(workspace["id"])).servers[dead["id"]], {})
    assert set((await tokens_left(redis, buckets)).values()) == {100}
    status = await breaker_status(redis, dead["id"], BreakerPolicy())
    assert status.failures == 1  # one connection failure per batch, not one per message


async def test_an_empty_bucket_defers_the_rest_of_the_batch_for_its_refill_time(redis, adapters):
    workspace = await make_workspace()
    with RecordingServer() as smtp:
        await create_server(workspace["id"], "smtp", _server("Small", smtp.port, hourly_quota="5"))
        addresses = [f"r{i}@example.com" for i in range(12)]
        outcomes = await send_batch(redis, workspace["id"], _items(workspace["id"], addresses), adapters)
        received = smtp.handler.received
    sent = [o for o in outcomes if o.verdict is Verdict.SENT]
    deferred = [o for o in outcomes if o.verdict is Verdict.DEFERRED]
    assert len(sent) == received == 5 and len(deferred) == 7
    # An hour's quota of 5 refills one token every 12 minutes: that is the wait, not a spin.
    assert all(600 < o.wait <= 720 for o in deferred)
    assert all(any("throttled" in note for note in o.tried) for o in deferred)


async def test_messages_of_an_unreachable_server_fail_over_within_the_batch(redis, adapters):
    workspace = await make_workspace()
    with RecordingServer() as smtp:
        await create_server(workspace["id"], "smtp", _server("Dead", free_port()))
        await create_server(workspace["id"], "smtp", _server("Sink", smtp.port))
        addresses = [f"r{i}@example.com" for i in range(12)]
        outcomes = await send_batch(redis, workspace["id"], _items(workspace["id"], addresses), adapters)
        received = smtp.handler.counts()
    assert {o.verdict for o in outcomes} == {Verdict.SENT} and len(received) == 12
    assert any(note.startswith("Dead:") for o in outcomes for note in o.tried)
