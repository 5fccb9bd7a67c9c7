"""Amazon SES through boto3's SESv2 `send_email` with raw content.

boto3 blocks, so calls run on a thread pool of the adapter's own, sized to the
concurrency the account allows. botocore's own retries are off: a throttled or
failed call comes back as a transient result at once, and the caller defers
the message with a delay instead of a thread sleeping on it.

Credentials: explicit keys, or a named profile (which may assume a role), or
boto3's default chain (environment, instance or task role) when both are empty.
"""

from __future__ import annotations

import asyncio
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from app.esp.base import Health, OutgoingMessage, SendResult
from app.esp.delivery_tags import delivery_tags

# Errors worth trying again later (SES quotas, throttling, a paused account being fixed).
TRANSIENT_ERRORS = frozenset({
    "Throttling", "ThrottlingException", "TooManyRequestsException", "LimitExceededException",
    "SendingPausedException", "ServiceUnavailable", "InternalFailure",
})


@dataclass(frozen=True)
class SesConfig:
    region: str = "us-east-1"
    access_key_id: str = ""
    secret_access_key: str = ""
    session_token: str = ""
    profile: str = ""
    configuration_set: str = ""
    endpoint_url: str | None = None
    max_concurrency: int = 10
    timeout: float = 30.0


def _tag_value(value: str) -> str:
    # SES tag values allow only letters, digits, '_', '-', '.', '@' and at most 256 characters.
    return re.sub(r"[^A-Za-z0-9_.@-]", "_", value)[:256]


class SesESP:
    def __init__(self, config: SesConfig) -> None:
        self.config = config
        self._executor = ThreadPoolExecutor(max_workers=config.max_concurrency, thread_name_prefix="ses")
        self._client: Any = None
        self._client_lock = threading.Lock()

    async def __aenter__(self) -> SesESP:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await asyncio.to_thread(self._executor.shutdown)

    async def send(self, messages: list[OutgoingMessage]) -> list[SendResult]:
        loop = asyncio.get_running_loop()
        return list(await asyncio.gather(
            *(loop.run_in_executor(self._executor, self._send_one, message) for message in messages)
        ))

    async def check(self) -> Health:
        return await asyncio.get_running_loop().run_in_executor(self._executor, self._check)

    def _ses(self) -> Any:
        # Built on first use, in a pool thread: loading botocore's service model takes a while.
        with self._client_lock:
            if self._client is None:
                self._client = self._build_client()
        return self._client

    def _build_client(self) -> Any:
        config = self.config
        session = boto3.session.Session(
            aws_access_key_id=config.access_key_id or None,
            aws_secret_access_key=config.secret_access_key or None,
            aws_session_token=config.session_token or None,
            profile_name=config.profile or None,
            region_name=config.region,
        )
        return session.client("sesv2", endpoint_url=config.endpoint_url, config=Config(
            connect_timeout=config.timeout, read_timeout=config.timeout,
            retries={"total_max_attempts": 1}, max_pool_connections=config.max_concurrency,
        ))

    def _send_one(self, message: OutgoingMessage) -> SendResult:
        request: dict[str, Any] = {
            "FromEmailAddress": message.mail_from,
            "Destination": {"ToAddresses": list(message.recipients)},
            "Content": {"Raw": {"Data": message.raw}},
        }
        if self.config.configuration_set:
            request["ConfigurationSetName"] = self.config.configuration_set
        tags = {"job": _tag_value(message.job)} if message.job else {}
        tags.update(delivery_tags(message))
        if tags:
            request["EmailTags"] = [{"Name": name, "Value": value} for name, value in tags.items()]
        try:
            reply = self._ses().send_email(**request)
        except ClientError as exc:
            return _refusal(message, exc)
        except BotoCoreError as exc:
            return SendResult(message.message_id, accepted=False, transient=True,
                              response=f"connection failed: {exc}", code=None)
        status = reply["ResponseMetadata"]["HTTPStatusCode"]
        # SES's own id: its bounce and complaint notifications name the message by it.
        return SendResult(reply["MessageId"], accepted=True, response=f"{status} MessageId={reply['MessageId']}",
                          code=status)

    def _check(self) -> Health:
        try:
            reply = self._ses().list_email_identities(PageSize=100)
        except ClientError as exc:
            return Health(ok=False, detail=_answer(exc))
        except BotoCoreError as exc:
            return Health(ok=False, detail=f"connection failed: {exc}")
        identities = reply.get("EmailIdentities", [])
        sendable = [i["IdentityName"] for i in identities if i.get("SendingEnabled", True)]
        return Health(ok=True, detail=f"{self.config.region}: {len(identities)} identities", extra={
            "region": self.config.region,
            "identities": ", ".join(sendable),
            "configuration_set": self.config.configuration_set,
        })


def _answer(exc: ClientError) -> str:
    error = exc.response.get("Error", {})
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    return f"{status} {error.get('Code', '')}: {error.get('Message', '')}"


def _refusal(message: OutgoingMessage, exc: ClientError) -> SendResult:
    status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))
    code = exc.response.get("Error", {}).get("Code", "")
    transient = code in TRANSIENT_ERRORS or status == 429 or status >= 500
    return SendResult(message.message_id, accepted=False, transient=transient, response=_answer(exc), code=status)
