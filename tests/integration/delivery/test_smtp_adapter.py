"""The SMTP adapter against an in-test aiosmtpd server that accepts, refuses or drops on command."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

from app.embedded import free_port
from app.esp.base import OutgoingMessage
from app.esp.smtp import Security, SmtpConfig, SmtpESP
from tests.integration.delivery.smtp_servers import ScriptedHandler, accept_only, self_signed_context

RAW = b"From: news@example.com\r\nTo: reader@example.net\r\nSubject: Hello\r\n\r\nHello there.\r\n"


def message(number: int = 1, *recipients: str, job: str = "") -> OutgoingMessage:
    return OutgoingMessage(workspace_id=1, mail_from="bounce@example.com",
                           recipients=recipients or ("reader@example.net",), raw=RAW,
                           message_id=f"<m{number}@example.com>", job=job)


def serve(handler: ScriptedHandler, **options: object) -> Controller:
    controller = Controller(handler, hostname="127.0.0.1", port=free_port(), **options)
    controller.start()
    return controller


@pytest.fixture
def handler() -> ScriptedHandler:
    return ScriptedHandler()


@pytest.fixture
def server(handler: ScriptedHandler) -> Iterator[Controller]:
    controller = serve(handler)
    yield controller
    controller.stop()


def config_for(controller: Controller, **overrides: object) -> SmtpConfig:
    return SmtpConfig(host="127.0.0.1", port=controller.port, security=Security.NONE, **overrides)


async def test_a_batch_goes_over_a_few_reused_connections(server: Controller, handler: ScriptedHandler) -> None:
    async with SmtpESP(config_for(server, pool_size=3)) as esp:
        results = await esp.send([message(n) for n in range(30)])

    assert all(r.accepted and r.code == 250 for r in results)
    assert results[0].response == "250 2.0.0 Ok: queued as 4F2X"
    assert [r.message_id for r in results] == [f"<m{n}@example.com>" for n in range(30)]
    assert len(handler.received) == 30
    assert len({r.peer for r in handler.received}) <= 3


async def test_the_pool_keeps_connections_between_batches(server: Controller, handler: ScriptedHandler) -> None:
    async with SmtpESP(config_for(server, pool_size=1)) as esp:
        await esp.send([message(1)])
        await esp.send([message(2)])

    assert len({r.peer for r in handler.received}) == 1


async def test_a_connection_is_replaced_after_its_message_allowance(
    server: Controller, handler: ScriptedHandler
) -> None:
    async with SmtpESP(config_for(server, pool_size=1, messages_per_connection=5)) as esp:
        results = await esp.send([message(n) for n in range(12)])

    assert all(r.accepted for r in results)
    assert len({r.peer for r in handler.received}) == 3


async def test_powermta_headers_are_added(server: Controller, handler: ScriptedHandler) -> None:
    async with SmtpESP(config_for(server, virtual_mta="gmail-pool")) as esp:
        await esp.send([message(1, job="spring-sale\r\nBcc: x@evil.test")])

    content = handler.received[0].content
    assert content.startswith(b"X-Virtual-MTA: gmail-pool\r\nX-Job: spring-sale Bcc: x@evil.test\r\nFrom: ")


async def test_a_4xx_answer_is_transient_with_the_exact_reply(server: Controller, handler: ScriptedHandler) -> None:
    handler.rcpt_replies["busy@example.net"] = "451 4.7.1 Greylisted, try again in 5 minutes"
    async with SmtpESP(config_for(server)) as esp:
        [result] = await esp.send([message(1, "busy@example.net")])

    assert (result.accepted, result.transient, result.code) == (False, True, 451)
    assert result.response == "busy@example.net: 451 4.7.1 Greylisted, try again in 5 minutes"


async def test_a_5xx_answer_is_permanent_and_the_connection_goes_on(
    server: Controller, handler: ScriptedHandler
) -> None:
    handler.rcpt_replies["gone@example.net"] = "550 5.1.1 User unknown"
    async with SmtpESP(config_for(server, pool_size=1)) as esp:
        refused, delivered = await esp.send([message(1, "gone@example.net"), message(2)])

    assert (refused.accepted, refused.transient, refused.code) == (False, False, 550)
    assert refused.response == "gone@example.net: 550 5.1.1 User unknown"
    assert delivered.accepted
    assert len({r.peer for r in handler.received}) == 1


async def test_some_recipients_refused_still_delivers_to_the_rest(
    server: Controller, handler: ScriptedHandler
) -> None:
    handler.rcpt_replies["gone@example.net"] = "550 5.1.1 User unknown"
    async with SmtpESP(config_for(server)) as esp:
        [result] = await esp.send([message(1, "reader@example.net", "gone@example.net")])

    assert result.accepted
    assert result.response == "250 2.0.0 Ok: queued as 4F2X; refused gone@example.net: 550 5.1.1 User unknown"
    assert handler.received[0].recipients == ("reader@example.net",)


async def test_an_address_unfit_for_smtp_fails_before_any_command(
    server: Controller, handler: ScriptedHandler
) -> None:
    async with SmtpESP(config_for(server, pool_size=1)) as esp:
        invalid, delivered = await esp.send([message(1, "two words@example.net"), message(2)])

    assert (invalid.accepted, invalid.transient, invalid.code) == (False, False, None)
    assert invalid.response.startswith("invalid address: Address 'two words@example.net' contains characters")
    assert delivered.accepted
    assert [r.recipients for r in handler.received] == [("reader@example.net",)]


async def test_a_refused_data_is_permanent(server: Controller, handler: ScriptedHandler) -> None:
    handler.data_reply = "554 5.7.1 Message rejected as spam"
    async with SmtpESP(config_for(server)) as esp:
        [result] = await esp.send([message(1)])

    assert (result.accepted, result.transient, result.code) == (False, False, 554)
    assert result.response == "554 5.7.1 Message rejected as spam"


async def test_a_pooled_connection_the_server_dropped_is_replaced(
    server: Controller, handler: ScriptedHandler
) -> None:
    async with SmtpESP(config_for(server, pool_size=1)) as esp:
        await esp.send([message(1)])
        handler.drop_at, handler.drops_left = "MAIL", 1
        [result] = await esp.send([message(2)])

    assert result.accepted
    assert len({r.peer for r in handler.received}) == 2


async def test_a_drop_on_a_fresh_connection_is_a_transient_failure_without_code(
    server: Controller, handler: ScriptedHandler
) -> None:
    handler.drop_at, handler.drops_left = "DATA", 1
    async with SmtpESP(config_for(server, pool_size=1)) as esp:
        dropped, after = await esp.send([message(1), message(2)])

    assert (dropped.accepted, dropped.transient, dropped.code) == (False, True, None)
    assert dropped.response.startswith("connection lost: SMTPServerDisconnected")
    assert after.accepted


async def test_an_unreachable_server_fails_the_batch_at_once() -> None:
    config = SmtpConfig(host="127.0.0.1", port=free_port(), security=Security.NONE, timeout=5)
    async with SmtpESP(config) as esp:
        results = await esp.send([message(n) for n in range(20)])
        health = await esp.check()

    assert all(not r.accepted and r.transient and r.code is None for r in results)
    assert results[0].response.startswith("connection failed: SMTPConnectError")
    assert not health.ok
    assert health.detail.startswith("SMTPConnectError")


async def test_check_authenticates_and_reports_the_server() -> None:
    handler = ScriptedHandler()
    controller = serve(handler, authenticator=accept_only(b"sender", b"s3cret"), auth_require_tls=False,
                       ident="ESMTP test-mta")
    try:
        good = SmtpConfig(host="127.0.0.1", port=controller.port, security=Security.NONE,
                          username="sender", password="s3cret")
        bad = SmtpConfig(host="127.0.0.1", port=controller.port, security=Security.NONE,
                         username="sender", password="wrong")
        async with SmtpESP(good) as esp:
            health = await esp.check()
            [result] = await esp.send([message(1)])
        async with SmtpESP(bad) as esp:
            refused = await esp.check()
            [unsent] = await esp.send([message(2)])
    finally:
        controller.stop()

    assert health.ok
    assert health.detail.startswith("220 ") and "ESMTP test-mta" in health.detail
    assert health.extra["auth"] == "accepted"
    assert result.accepted
    assert (refused.ok, refused.detail) == (False, "535 5.7.8 Authentication credentials invalid")
    assert (unsent.transient, unsent.code) == (True, None)
    assert unsent.response == "connection failed: 535 5.7.8 Authentication credentials invalid"


async def test_starttls_is_negotiated_before_sending(tmp_path: Path) -> None:
    handler = ScriptedHandler()
    controller = serve(handler, tls_context=self_signed_context(tmp_path), require_starttls=True)
    try:
        config = SmtpConfig(host="127.0.0.1", port=controller.port, security=Security.STARTTLS,
                            validate_certs=False)
        async with SmtpESP(config) as esp:
            health = await esp.check()
            [result] = await esp.send([message(1)])
        plain = SmtpConfig(host="127.0.0.1", port=controller.port, security=Security.NONE)
        async with SmtpESP(plain) as esp:
            [refused] = await esp.send([message(2)])
    finally:
        controller.stop()

    assert health.ok
    assert result.accepted
    assert (refused.accepted, refused.code) == (False, 530)
    assert refused.response == "530 Must issue a STARTTLS command first"


async def test_implicit_tls_from_the_first_byte(tmp_path: Path) -> None:
    handler = ScriptedHandler()
    controller = serve(handler, ssl_context=self_signed_context(tmp_path))
    try:
        config = SmtpConfig(host="127.0.0.1", port=controller.port, security=Security.TLS, validate_certs=False)
        async with SmtpESP(config) as esp:
            health = await esp.check()
            [result] = await esp.send([message(1)])
    finally:
        controller.stop()

    assert (health.ok, health.extra["security"]) == (True, "tls")
    assert result.accepted


@pytest.mark.parametrize(("raw", "arrives"), [
    # Lines that start with a dot are doubled on the wire and arrive as written.
    (b"Subject: dots\r\n\r\n.starts with a dot\r\n..two dots\r\n.\r\nend\r\n",
     b"Subject: dots\r\n\r\n.starts with a dot\r\n..two dots\r\n.\r\nend\r\n"),
    # Bare line feeds and carriage returns become CRLF, and a missing final line break is added.
    (b"Subject: ends\n\nline one\rline two\n.dot after LF",
     b"Subject: ends\r\n\r\nline one\r\nline two\r\n.dot after LF\r\n"),
])
async def test_data_arrives_exactly_as_written_whatever_its_dots_and_line_ends(
        server: Controller, handler: ScriptedHandler, raw: bytes, arrives: bytes) -> None:
    async with SmtpESP(config_for(server)) as esp:
        [result] = await esp.send([OutgoingMessage(workspace_id=1, mail_from="bounce@example.com",
                                                   recipients=("reader@example.net",), raw=raw, message_id="<d@x>")])
    assert result.accepted
    assert handler.received[0].content == arrives
