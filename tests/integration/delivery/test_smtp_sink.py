"""The SMTP adapter against Postfix's own test server, smtp-sink, including its refusal modes."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import pytest

from app.esp.base import OutgoingMessage
from app.esp.smtp import Security, SmtpConfig, SmtpESP
from tests.integration.delivery.smtp_servers import SMTP_SINK, start_smtp_sink

# A contributor's machine may lack Postfix; CI installs it (.ci/run), so there a missing smtp-sink fails.
pytestmark = pytest.mark.skipif(not SMTP_SINK.exists() and not os.environ.get("CI"),
                                reason="Postfix smtp-sink not installed (apt-get install postfix)")

RAW = b"From: news@example.com\r\nTo: reader@example.net\r\nSubject: Sale\r\n\r\n" + b"Offer text.\r\n" * 100


def messages(count: int) -> list[OutgoingMessage]:
    return [OutgoingMessage(1, "bounce@example.com", (f"reader{n}@example.net",), RAW, message_id=str(n),
                            job="sale") for n in range(count)]


@pytest.fixture
def sink() -> Iterator[Callable[..., SmtpConfig]]:
    processes = []

    def start(*options: str) -> SmtpConfig:
        process, port = start_smtp_sink(*options)
        processes.append(process)
        return SmtpConfig(host="127.0.0.1", port=port, security=Security.NONE, pool_size=4)

    yield start
    for process in processes:
        process.terminate()
        process.wait(timeout=10)


async def test_every_message_is_accepted_over_pooled_connections(sink: Callable[..., SmtpConfig]) -> None:
    async with SmtpESP(sink()) as esp:
        health = await esp.check()
        results = await esp.send(messages(300))

    assert health.ok and health.detail == "220 smtp-sink ESMTP"
    assert all(r.accepted and r.response == "250 2.0.0 Ok" for r in results)


async def test_soft_rejected_recipients_are_transient(sink: Callable[..., SmtpConfig]) -> None:
    async with SmtpESP(sink("-r", "RCPT")) as esp:
        results = await esp.send(messages(5))

    assert all(not r.accepted and r.transient and r.code == 450 for r in results)
    assert results[0].response == "reader0@example.net: 450 4.3.0 Error: command failed"


async def test_a_message_refused_after_its_content_is_permanent(sink: Callable[..., SmtpConfig]) -> None:
    async with SmtpESP(sink("-f", ".")) as esp:
        results = await esp.send(messages(5))

    assert all(not r.accepted and not r.transient and r.code == 500 for r in results)
    assert results[0].response == "500 5.3.0 Error: command failed"


async def test_a_421_on_mail_is_transient_and_the_connection_is_not_reused(
    sink: Callable[..., SmtpConfig]
) -> None:
    async with SmtpESP(sink("-Q", "MAIL")) as esp:
        results = await esp.send(messages(6))

    assert all(not r.accepted and r.transient and r.code == 421 for r in results)


async def test_a_server_that_hangs_up_gives_transient_results_without_code(
    sink: Callable[..., SmtpConfig]
) -> None:
    async with SmtpESP(sink("-q", "MAIL")) as esp:
        results = await esp.send(messages(4))

    assert all(not r.accepted and r.transient and r.code is None for r in results)
    assert results[0].response.startswith("connection lost: SMTPServerDisconnected")
