"""Security tests: a real SMTP server as the platform sender, clients at other addresses, settings per test."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator

import httpx
import pytest
from aiosmtpd.controller import Controller

from app.embedded import free_port
from tests.integration.delivery.smtp_servers import ScriptedHandler, accept_only

BASE_URL = "http://127.0.0.1:8000"


@pytest.fixture
def configure(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., None]]:
    """Set environment variables and rebuild the settings from them; undone after the test."""
    from app.settings import get_settings

    def apply(**values: str) -> None:
        for name, value in values.items():
            monkeypatch.setenv(name, value)
        get_settings.cache_clear()

    yield apply
    monkeypatch.undo()
    get_settings.cache_clear()


@pytest.fixture
def platform_smtp(configure: Callable[..., None]) -> Iterator[ScriptedHandler]:
    """An SMTP server that requires a login, configured as the platform sender (SYSTEM_MAIL_URL)."""
    handler = ScriptedHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port(),
                            authenticator=accept_only(b"ignite", b"s3cret"), auth_require_tls=False)
    controller.start()
    configure(SYSTEM_MAIL_URL=f"smtp://ignite:s3cret@127.0.0.1:{controller.port}"
                              "?security=none&from=Ignite%20%3Caccounts%40example.com%3E")
    yield handler
    controller.stop()


@pytest.fixture
def client_from(server) -> Callable[[str], httpx.AsyncClient]:
    """A client that reaches the app from the given IP address (close it with `async with`)."""

    def make(ip: str) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=server, client=(ip, 50000))
        return httpx.AsyncClient(transport=transport, base_url=BASE_URL)

    return make


@pytest.fixture
async def remote_client(client_from) -> AsyncIterator[httpx.AsyncClient]:
    async with client_from("203.0.113.7") as client:
        yield client
