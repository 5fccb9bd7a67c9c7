"""Security headers on every response; a response that set its own (e.g. a sandbox CSP) keeps it."""

from __future__ import annotations

from litestar.types import ASGIApp, Message, Receive, Scope, Send

DEFAULTS = (
    (b"x-content-type-options", b"nosniff"),
    # Our own previews frame our own pages; nobody else may frame them (clickjacking).
    (b"x-frame-options", b"SAMEORIGIN"),
    (b"referrer-policy", b"same-origin"),
)


def security_headers_middleware(app: ASGIApp) -> ASGIApp:
    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                message["headers"] = [*message.get("headers", []),
                                      *((name, value) for name, value in DEFAULTS if name not in present)]
            await send(message)

        await app(scope, receive, send_with_headers)

    return middleware
