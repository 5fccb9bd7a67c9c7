"""Sending through routing: a dead server's traffic fails over to a healthy one, and its circuit opens."""

from app.embedded import free_port
from app.esp.base import OutgoingMessage
from app.redis_client import get_redis
from app.services import routing
from app.services.delivery_servers import create_server
from app.services.sending import Adapters, send_routed
from app.services.throttling import BreakerPolicy, breaker_status
from tests.factories import make_workspace
from tests.integration.delivery.smtp_servers import start_smtp_sink


def _smtp(name: str, port: int, weight: int) -> dict:
    return {"name": name, "setting_host": "127.0.0.1", "setting_port": str(port), "setting_security": "none",
            "weight": str(weight)}


def _message(workspace_id: int, to: str) -> OutgoingMessage:
    raw = f"From: a@example.com\r\nTo: {to}\r\nSubject: hi\r\n\r\nhello\r\n".encode()
    return OutgoingMessage(workspace_id=workspace_id, mail_from="a@example.com", recipients=(to,), raw=raw)


async def test_transient_failures_fail_over_and_open_the_dead_servers_circuit():
    workspace = await make_workspace()
    sink, port = start_smtp_sink()
    adapters = Adapters()
    try:
        dead = await create_server(workspace["id"], "smtp", _smtp("Dead", free_port(), 1000))
        await create_server(workspace["id"], "smtp", _smtp("Sink", port, 1))
        redis = get_redis()
        messages = [_message(workspace["id"], f"r{i}@example.com") for i in range(8)]
        outcomes = await send_routed(redis, workspace["id"], messages, adapters)
        assert all(outcome.accepted for outcome in outcomes)
        assert {outcome.server for outcome in outcomes} == {"Sink"}
        assert any(attempt.startswith("Dead:") for attempt in outcomes[0].attempts)
        status = await breaker_status(redis, dead["id"], BreakerPolicy())
        assert not status.allowed
        later = await routing.route(redis, workspace["id"], "later@example.com")
        assert later.chosen.name == "Sink"
        assert next(c for c in later.candidates if c.name == "Dead").skipped.startswith("circuit open")
    finally:
        await adapters.aclose()
        sink.terminate()
        sink.wait()


async def test_message_is_deferred_when_no_server_can_take_it():
    workspace = await make_workspace()
    await create_server(workspace["id"], "smtp", _smtp("Dead", free_port(), 100))
    adapters = Adapters()
    try:
        [outcome] = await send_routed(get_redis(), workspace["id"], [_message(workspace["id"], "x@example.com")],
                                      adapters)
    finally:
        await adapters.aclose()
    assert not outcome.accepted and outcome.deferred_for > 0


async def test_deferrals_cut_the_rate_of_that_server_and_domain_group():
    from aiosmtpd.controller import Controller

    from app.services.throttling import recent_decisions
    from tests.integration.delivery.smtp_servers import ScriptedHandler

    workspace = await make_workspace()
    handler = ScriptedHandler(data_reply="451 4.7.1 Try again later, rate limited")
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    adapters = Adapters()
    try:
        server = await create_server(workspace["id"], "smtp", _smtp("Slow", controller.port, 100))
        await routing.domain_groups(workspace["id"])
        messages = [_message(workspace["id"], f"r{i}@gmail.com") for i in range(60)]
        outcomes = await send_routed(get_redis(), workspace["id"], messages, adapters)
    finally:
        await adapters.aclose()
        controller.stop()
    assert all(outcome.deferred_for > 0 for outcome in outcomes)
    decisions = await recent_decisions(get_redis(), server["id"])
    rate_cuts = [d for d in decisions if d.kind == "rate" and d.subject == "Gmail"]
    assert rate_cuts and float(rate_cuts[0].new.rstrip("/h")) < float(rate_cuts[0].old.rstrip("/h"))
