"""What the SES and HTTP-API adapters send and keep so that provider events find their delivery: the
provider's message id on the result, the delivery id as SES tags, SparkPost metadata, Mailgun variables."""

from __future__ import annotations

import email
import email.policy
import json
from typing import Any

from app.esp.base import OutgoingMessage
from app.esp.http_api import HttpApiConfig, HttpApiESP
from app.esp.ses import SesConfig, SesESP
from app.services.rendering.mime import message_id
from app.services.sending_batches import provider_id
from tests.integration.delivery.test_http_api_adapter import MAILGUN_OK, SPARKPOST_OK, FakeApi, api  # noqa: F401
from tests.integration.delivery.test_ses_adapter import RAW, moto_url, ses_config  # noqa: F401

DELIVERY_ID = 987654


def _delivery_message() -> OutgoingMessage:
    return OutgoingMessage(1, "news@example.com", ("reader@example.net",), RAW,
                           message_id=message_id(DELIVERY_ID, "example.com"), job="campaign-3")


async def test_ses_keeps_its_message_id_and_gets_the_delivery_as_a_tag(ses_config: SesConfig) -> None:  # noqa: F811
    requests: list[dict[str, Any]] = []
    async with SesESP(ses_config) as esp:
        # Listening to what boto3 sends; the call itself still goes to moto.
        esp._ses().meta.events.register("before-parameter-build.sesv2.SendEmail",
                                        lambda params, **_: requests.append(dict(params)))
        [result] = await esp.send([_delivery_message()])

    assert result.accepted
    assert result.response == f"200 MessageId={result.message_id}"
    assert provider_id(_delivery_message().message_id, result) == result.message_id
    assert requests[0]["EmailTags"] == [{"Name": "job", "Value": "campaign-3"},
                                        {"Name": "ignite_delivery", "Value": str(DELIVERY_ID)}]


async def test_sparkpost_keeps_the_transmission_id_and_gets_the_delivery_as_metadata(
        api: tuple[FakeApi, str]) -> None:  # noqa: F811
    fake, url = api
    fake.default = (200, SPARKPOST_OK)
    async with HttpApiESP(HttpApiConfig("sparkpost", api_key="k", base_url=url)) as esp:
        [result] = await esp.send([_delivery_message()])

    assert result.message_id == "1234"
    assert json.loads(fake.seen[0].body)["metadata"] == {"ignite_delivery": str(DELIVERY_ID)}


async def test_mailgun_keeps_its_id_without_brackets_and_gets_the_delivery_as_a_variable(
        api: tuple[FakeApi, str]) -> None:  # noqa: F811
    fake, url = api
    fake.default = (200, MAILGUN_OK)
    async with HttpApiESP(HttpApiConfig("mailgun", api_key="k", base_url=url, domain="mg.example.com")) as esp:
        [result] = await esp.send([_delivery_message()])

    assert result.message_id == "20250303.1@mg.example.com"
    seen = fake.seen[0]
    form = email.message_from_bytes(
        f"Content-Type: {seen.headers['Content-Type']}\r\n\r\n".encode() + seen.body, policy=email.policy.HTTP)
    fields = {part.get_param("name", header="content-disposition"): part.get_content()
              for part in form.iter_parts() if not part.get_filename()}
    assert fields["v:ignite_delivery"] == str(DELIVERY_ID)


async def test_a_message_of_no_delivery_carries_no_delivery_metadata(api: tuple[FakeApi, str]) -> None:  # noqa: F811
    fake, url = api
    fake.default = (200, SPARKPOST_OK)
    message = OutgoingMessage(1, "news@example.com", ("reader@example.net",), RAW, message_id="<welcome@example.com>")
    async with HttpApiESP(HttpApiConfig("sparkpost", api_key="k", base_url=url)) as esp:
        await esp.send([message])

    assert "metadata" not in json.loads(fake.seen[0].body)
