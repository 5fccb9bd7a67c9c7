"""The HTTP-API adapter against a small local HTTP server that plays SparkPost or Mailgun."""

from __future__ import annotations

import email
import email.policy
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from app.embedded import free_port
from app.esp.base import OutgoingMessage
from app.esp.http_api import HttpApiConfig, HttpApiESP

RAW = b"From: news@example.com\r\nTo: reader@example.net\r\nSubject: Hello\r\n\r\nHello there.\r\n"
SPARKPOST_OK = {"results": {"total_rejected_recipients": 0, "total_accepted_recipients": 1, "id": "1234"}}
MAILGUN_OK = {"id": "<20250303.1@mg.example.com>", "message": "Queued. Thank you."}


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class FakeApi:
    """Answers each request with the next scripted (status, body), then with the default."""

    default: tuple[int, object] = (200, {})
    script: list[tuple[int, object]] = field(default_factory=list)
    seen: list[Seen] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, request: Seen) -> tuple[int, bytes]:
        with self.lock:
            self.seen.append(request)
            status, body = self.script.pop(0) if self.script else self.default
        return status, body.encode() if isinstance(body, str) else json.dumps(body).encode()


@pytest.fixture
def api() -> Iterator[tuple[FakeApi, str]]:
    fake = FakeApi()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            status, reply = fake.answer(Seen(self.command, self.path, dict(self.headers), body))
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        do_GET = do_POST = _serve

        def log_message(self, format: str, *args: object) -> None:
            pass

    class Server(ThreadingHTTPServer):
        # The adapter opens several connections at once; the default backlog of 5 would drop some SYNs.
        request_queue_size = 64

    server = Server(("127.0.0.1", free_port()), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield fake, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def message(number: int = 1, *recipients: str) -> OutgoingMessage:
    return OutgoingMessage(1, "bounce@example.com", recipients or ("reader@example.net",), RAW,
                           message_id=str(number), job="spring-sale")


async def test_sparkpost_gets_the_rfc822_message_with_its_campaign(api: tuple[FakeApi, str]) -> None:
    fake, url = api
    fake.default = (200, SPARKPOST_OK)
    async with HttpApiESP(HttpApiConfig("sparkpost", api_key="sp-key", base_url=url)) as esp:
        results = await esp.send([message(n) for n in range(10)])

    assert all(r.accepted and r.code == 200 for r in results)
    assert results[0].response == f"200 {json.dumps(SPARKPOST_OK)}"
    first = fake.seen[0]
    assert (first.method, first.path, first.headers["Authorization"]) == ("POST", "/api/v1/transmissions", "sp-key")
    assert json.loads(first.body) == {
        "recipients": [{"address": {"email": "reader@example.net"}}],
        "content": {"email_rfc822": RAW.decode()},
        "campaign_id": "spring-sale",
    }


async def test_sparkpost_rejecting_every_recipient_is_a_permanent_failure(api: tuple[FakeApi, str]) -> None:
    fake, url = api
    fake.default = (200, {"results": {"total_rejected_recipients": 1, "total_accepted_recipients": 0}})
    async with HttpApiESP(HttpApiConfig("sparkpost", api_key="k", base_url=url)) as esp:
        [result] = await esp.send([message()])

    assert (result.accepted, result.transient, result.code) == (False, False, 200)


async def test_mailgun_gets_a_mime_upload_with_every_recipient(api: tuple[FakeApi, str]) -> None:
    fake, url = api
    fake.default = (200, MAILGUN_OK)
    config = HttpApiConfig("mailgun", api_key="mg-key", base_url=url, domain="mg.example.com")
    async with HttpApiESP(config) as esp:
        [result] = await esp.send([message(1, "a@example.net", "b@example.net")])

    assert result.accepted
    seen = fake.seen[0]
    assert seen.path == "/v3/mg.example.com/messages.mime"
    assert seen.headers["Authorization"] == "Basic YXBpOm1nLWtleQ=="
    form = email.message_from_bytes(
        f"Content-Type: {seen.headers['Content-Type']}\r\n\r\n".encode() + seen.body, policy=email.policy.HTTP
    )
    *fields, upload = form.iter_parts()
    assert [(part.get_param("name", header="content-disposition"), part.get_content()) for part in fields] == [
        ("to", "a@example.net"), ("to", "b@example.net"), ("o:tag", "spring-sale")
    ]
    assert (upload.get_filename(), upload.get_content_type()) == ("message.eml", "message/rfc822")
    assert RAW in seen.body


@pytest.mark.parametrize(("status", "transient"), [(429, True), (503, True), (400, False), (401, False)])
async def test_status_codes_are_classified(api: tuple[FakeApi, str], status: int, transient: bool) -> None:
    fake, url = api
    fake.default = (status, {"errors": [{"message": "nope", "code": str(status)}]})
    async with HttpApiESP(HttpApiConfig("sparkpost", api_key="k", base_url=url)) as esp:
        [result] = await esp.send([message()])

    assert (result.accepted, result.transient, result.code) == (False, transient, status)
    assert result.response == f'{status} {{"errors": [{{"message": "nope", "code": "{status}"}}]}}'


async def test_one_failure_in_a_batch_leaves_the_others_sent(api: tuple[FakeApi, str]) -> None:
    fake, url = api
    fake.default = (200, SPARKPOST_OK)
    fake.script = [(500, "upstream timeout")]
    async with HttpApiESP(HttpApiConfig("sparkpost", api_key="k", base_url=url, max_concurrency=1)) as esp:
        results = await esp.send([message(n) for n in range(3)])

    assert [(r.accepted, r.transient) for r in results] == [(False, True), (True, False), (True, False)]
    assert results[0].response == "500 upstream timeout"


async def test_check_calls_the_provider_account_endpoint(api: tuple[FakeApi, str]) -> None:
    fake, url = api
    fake.script = [(200, {"results": {"customer_id": 1}}), (401, "Forbidden")]
    async with HttpApiESP(HttpApiConfig("sparkpost", api_key="k", base_url=url)) as esp:
        good = await esp.check()
    async with HttpApiESP(HttpApiConfig("mailgun", api_key="k", base_url=url, domain="mg.example.com")) as esp:
        bad = await esp.check()

    assert [s.path for s in fake.seen] == ["/api/v1/account", "/v3/domains/mg.example.com"]
    assert (good.ok, bad.ok, bad.detail) == (True, False, "401 Forbidden")


async def test_an_unreachable_api_is_transient_without_code() -> None:
    config = HttpApiConfig("mailgun", api_key="k", base_url=f"http://127.0.0.1:{free_port()}", domain="d")
    async with HttpApiESP(config) as esp:
        [result] = await esp.send([message()])
        health = await esp.check()

    assert (result.accepted, result.transient, result.code) == (False, True, None)
    assert result.response.startswith("connection failed: ConnectError")
    assert not health.ok


def test_an_unknown_provider_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown HTTP API provider 'sendgrid'"):
        HttpApiESP(HttpApiConfig("sendgrid", api_key="k", base_url="http://localhost"))
