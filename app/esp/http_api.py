"""HTTP-API ESPs (SparkPost- and Mailgun-style) through one adapter with a payload mapping per provider.

Messages arrive already rendered, so each one goes as its own MIME upload;
the adapter keeps one pooled httpx client (keep-alive) and sends up to
`max_concurrency` requests at once. 2xx is accepted; 429 and 5xx are
transient; any other 4xx is permanent; no answer at all is transient with no
code. The provider's body is kept as the exact answer.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import ClassVar, Protocol

import httpx

from app.esp.base import Health, OutgoingMessage, SendResult
from app.esp.delivery_tags import delivery_tags

# Enough of a provider's answer to show on the server page without storing whole error pages.
ANSWER_CHARS = 500


@dataclass(frozen=True)
class HttpApiConfig:
    provider: str
    api_key: str
    base_url: str
    domain: str = ""
    timeout: float = 30.0
    max_concurrency: int = 8


class ProviderMapping(Protocol):
    def auth(self, config: HttpApiConfig) -> httpx.Auth | None: ...

    def headers(self, config: HttpApiConfig) -> dict[str, str]: ...

    def send_request(self, client: httpx.AsyncClient, config: HttpApiConfig,
                     message: OutgoingMessage) -> httpx.Request: ...

    def check_request(self, client: httpx.AsyncClient, config: HttpApiConfig) -> httpx.Request: ...

    def refused_despite_2xx(self, body: str) -> bool: ...

    def message_id(self, body: str) -> str: ...


class SparkPost:
    """POST /api/v1/transmissions with the message as `email_rfc822`; the API key is the Authorization header."""

    def auth(self, config: HttpApiConfig) -> httpx.Auth | None:
        return None

    def headers(self, config: HttpApiConfig) -> dict[str, str]:
        return {"Authorization": config.api_key}

    def send_request(self, client: httpx.AsyncClient, config: HttpApiConfig,
                     message: OutgoingMessage) -> httpx.Request:
        payload: dict[str, object] = {
            "recipients": [{"address": {"email": recipient}} for recipient in message.recipients],
            "content": {"email_rfc822": message.raw.decode("utf-8", errors="replace")},
        }
        if message.job:
            payload["campaign_id"] = message.job[:64]
        if tags := delivery_tags(message):
            payload["metadata"] = tags
        return client.build_request("POST", "/api/v1/transmissions", json=payload)

    def check_request(self, client: httpx.AsyncClient, config: HttpApiConfig) -> httpx.Request:
        return client.build_request("GET", "/api/v1/account")

    def refused_despite_2xx(self, body: str) -> bool:
        # SparkPost answers 200 when every recipient was rejected (e.g. on its suppression list).
        try:
            results = json.loads(body).get("results", {})
        except (ValueError, AttributeError):
            return False
        return results.get("total_accepted_recipients") == 0

    def message_id(self, body: str) -> str:
        # The transmission's id: SparkPost's events name it as `transmission_id`.
        return str(_json_field(body, "results", "id"))


class Mailgun:
    """POST /v3/<domain>/messages.mime as multipart with the MIME file; HTTP basic auth as `api`."""

    def auth(self, config: HttpApiConfig) -> httpx.Auth | None:
        return httpx.BasicAuth("api", config.api_key)

    def headers(self, config: HttpApiConfig) -> dict[str, str]:
        return {}

    def send_request(self, client: httpx.AsyncClient, config: HttpApiConfig,
                     message: OutgoingMessage) -> httpx.Request:
        fields = [("to", recipient) for recipient in message.recipients]
        if message.job:
            fields.append(("o:tag", message.job))
        fields.extend((f"v:{name}", value) for name, value in delivery_tags(message).items())
        return client.build_request(
            "POST", f"/v3/{config.domain}/messages.mime",
            data=_grouped(fields),
            files={"message": ("message.eml", message.raw, "message/rfc822")},
        )

    def check_request(self, client: httpx.AsyncClient, config: HttpApiConfig) -> httpx.Request:
        return client.build_request("GET", f"/v3/domains/{config.domain}")

    def refused_despite_2xx(self, body: str) -> bool:
        return False

    def message_id(self, body: str) -> str:
        # "<20250303.1@mg.example.com>"; its events give it without the brackets, as it is stored.
        return str(_json_field(body, "id")).strip().strip("<>")


def _json_field(body: str, *path: str) -> object:
    """A field of a JSON answer, or "" when the answer has no such field."""
    try:
        value: object = json.loads(body)
    except ValueError:
        return ""
    for key in path:
        if not isinstance(value, dict):
            return ""
        value = value.get(key, "")
    return value if isinstance(value, str | int) else ""


def _grouped(fields: list[tuple[str, str]]) -> dict[str, list[str]]:
    """Form fields that may repeat (one `to` per recipient), as httpx takes them."""
    grouped: dict[str, list[str]] = {}
    for key, value in fields:
        grouped.setdefault(key, []).append(value)
    return grouped


class HttpApiESP:
    PROVIDERS: ClassVar[dict[str, ProviderMapping]] = {"sparkpost": SparkPost(), "mailgun": Mailgun()}

    def __init__(self, config: HttpApiConfig) -> None:
        if config.provider not in self.PROVIDERS:
            raise ValueError(f"unknown HTTP API provider {config.provider!r}; known: {sorted(self.PROVIDERS)}")
        self.config = config
        self.mapping = self.PROVIDERS[config.provider]
        self._slots = asyncio.Semaphore(config.max_concurrency)
        self._client = httpx.AsyncClient(
            base_url=config.base_url,
            auth=self.mapping.auth(config),
            headers=self.mapping.headers(config),
            timeout=config.timeout,
            limits=httpx.Limits(max_connections=config.max_concurrency),
        )

    async def __aenter__(self) -> HttpApiESP:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._client.aclose()

    async def send(self, messages: list[OutgoingMessage]) -> list[SendResult]:
        return list(await asyncio.gather(*(self._send_one(message) for message in messages)))

    async def check(self) -> Health:
        try:
            response = await self._client.send(self.mapping.check_request(self._client, self.config))
        except httpx.TransportError as exc:
            return Health(ok=False, detail=f"connection failed: {type(exc).__name__}: {exc}")
        return Health(ok=response.is_success, detail=_answer(response), extra={"provider": self.config.provider})

    async def _send_one(self, message: OutgoingMessage) -> SendResult:
        async with self._slots:
            try:
                response = await self._client.send(self.mapping.send_request(self._client, self.config, message))
            except httpx.TransportError as exc:
                return SendResult(message.message_id, accepted=False, transient=True,
                                  response=f"connection failed: {type(exc).__name__}: {exc}", code=None)
        status = response.status_code
        if response.is_success and not self.mapping.refused_despite_2xx(response.text):
            return SendResult(self.mapping.message_id(response.text) or message.message_id, accepted=True,
                              response=_answer(response), code=status)
        transient = status == 429 or status >= 500
        return SendResult(message.message_id, accepted=False, transient=transient, response=_answer(response),
                          code=status)


def _answer(response: httpx.Response) -> str:
    return f"{response.status_code} {response.text[:ANSWER_CHARS]}"
