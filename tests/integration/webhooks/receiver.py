"""A real HTTP receiver on loopback for webhook tests: records each request, answers the statuses it is told."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> dict:
        return json.loads(self.body)

    def signed_by(self, secret: str) -> bool:
        expected = hmac.new(secret.encode(), self.headers["x-ignite-timestamp"].encode() + b"." + self.body,
                            hashlib.sha256).hexdigest()
        return hmac.compare_digest(self.headers["x-ignite-signature"], f"v1={expected}")


@dataclass
class Receiver:
    port: int = 0
    # Answered in order; once used up, every request gets `default`.
    statuses: list[int] = field(default_factory=list)
    default: int = 200
    answer: bytes = b'{"ok": true}'
    received: list[Received] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks"

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request_line = (await reader.readline()).decode()
        headers: dict[str, str] = {}
        while (line := (await reader.readline()).decode().strip()):
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        body = await reader.readexactly(int(headers.get("content-length", "0")))
        self.received.append(Received(request_line.split()[1], headers, body))
        status = self.statuses.pop(0) if self.statuses else self.default
        extra = "Location: http://127.0.0.1:1/elsewhere\r\n" if 300 <= status < 400 else ""
        writer.write(f"HTTP/1.1 {status} X\r\n{extra}Content-Type: application/json\r\n"
                     f"Content-Length: {len(self.answer)}\r\nConnection: close\r\n\r\n".encode() + self.answer)
        try:
            await writer.drain()
        except ConnectionError:
            pass  # the client read what it wanted and hung up
        writer.close()


@asynccontextmanager
async def running_receiver(*statuses: int) -> AsyncIterator[Receiver]:
    receiver = Receiver(statuses=list(statuses))
    server = await asyncio.start_server(receiver.handle, "127.0.0.1", 0)
    receiver.port = server.sockets[0].getsockname()[1]
    try:
        yield receiver
    finally:
        server.close()
        await server.wait_closed()
