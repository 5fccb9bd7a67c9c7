"""The SES adapter against moto in server mode, reached through boto3 with endpoint_url."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import httpx
import pytest
from botocore.stub import Stubber
from moto.server import ThreadedMotoServer

from app.embedded import free_port
from app.esp.base import OutgoingMessage
from app.esp.ses import SesConfig, SesESP

REGION = "eu-west-1"
KEYS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
RAW = b"From: news@example.com\r\nTo: reader@example.net\r\nSubject: Hello\r\n\r\nHello there.\r\n"


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def ses_config(moto_url: str) -> SesConfig:
    httpx.post(f"{moto_url}/moto-api/reset").raise_for_status()
    sesv2 = boto3.client("sesv2", region_name=REGION, endpoint_url=moto_url, **KEYS)
    sesv2.create_email_identity(EmailIdentity="example.com")
    return SesConfig(region=REGION, access_key_id="testing", secret_access_key="testing",
                     endpoint_url=moto_url, configuration_set="marketing")


def message(sender: str = "news@example.com", number: int = 1) -> OutgoingMessage:
    return OutgoingMessage(1, sender, ("reader@example.net",), RAW, message_id=str(number), job="spring sale")


def sent_messages(moto_url: str) -> list[dict[str, Any]]:
    return httpx.get(f"{moto_url}/moto-api/data.json").json()["ses"]["RawMessage"]


async def test_messages_from_a_verified_identity_are_sent_raw(ses_config: SesConfig, moto_url: str) -> None:
    async with SesESP(ses_config) as esp:
        results = await esp.send([message(number=n) for n in range(5)])

    assert all(r.accepted and r.code == 200 and r.response.startswith("200 MessageId=") for r in results)
    sent = sent_messages(moto_url)
    assert len(sent) == 5
    assert (sent[0]["source"], sent[0]["raw_data"]) == ("news@example.com", RAW.decode())


async def test_an_unverified_sender_is_refused_permanently(ses_config: SesConfig) -> None:
    async with SesESP(ses_config) as esp:
        [result] = await esp.send([message(sender="news@unverified.test")])

    assert (result.accepted, result.transient, result.code) == (False, False, 400)
    assert result.response == "400 MessageRejected: Did not have authority to send from email news@unverified.test"


async def test_throttling_is_transient(ses_config: SesConfig) -> None:
    async with SesESP(ses_config) as esp:
        # Failure injection: moto never throttles, so the answer is stubbed on the adapter's own client.
        with Stubber(esp._ses()) as stubber:
            stubber.add_client_error("send_email", service_error_code="TooManyRequestsException",
                                     service_message="Maximum sending rate exceeded.", http_status_code=429)
            [result] = await esp.send([message()])

    assert (result.accepted, result.transient, result.code) == (False, True, 429)
    assert result.response == "429 TooManyRequestsException: Maximum sending rate exceeded."


async def test_check_lists_the_sending_identities(ses_config: SesConfig) -> None:
    async with SesESP(ses_config) as esp:
        health = await esp.check()

    assert health.ok
    assert health.detail == "eu-west-1: 1 identities"
    assert health.extra["identities"] == "example.com"


async def test_an_unreachable_endpoint_is_transient_without_code() -> None:
    config = SesConfig(region=REGION, access_key_id="testing", secret_access_key="testing",
                       endpoint_url=f"http://127.0.0.1:{free_port()}", timeout=5)
    async with SesESP(config) as esp:
        [result] = await esp.send([message()])
        health = await esp.check()

    assert (result.accepted, result.transient, result.code) == (False, True, None)
    assert result.response.startswith("connection failed: Could not connect to the endpoint URL")
    assert not health.ok
