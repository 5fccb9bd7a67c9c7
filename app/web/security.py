"""Security headers on every response; a response that set its own (e.g. a sandbox CSP) keeps it.

The app's own pages run only the app's own scripts: no inline script, no inline event handlers, no eval
(`script-src 'self'`). Styles may be inline because the vendored editor and charts set them.
"""

from __future__ import annotations

from litestar.types import ASGIApp, Message, Receive, Scope, Send

from app.settings import get_settings

APP_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; frame-src 'self'; frame-ancestors 'self'; form-action 'self'; "
    "base-uri 'self'; object-src 'none'"
)
# The vendored Swagger UI page starts itself with an inline script; it shows no user content.
API_DOCS_CSP = APP_CSP.replace("script-src 'self'", "script-src 'self' 'unsafe-inline'")
API_DOCS = "/api/v1/docs"
HSTS = (b"strict-transport-security", b"max-age=31536000; includeSubDomains")

DEFAULTS = (
    (b"x-content-type-options", b"nosniff"),
    # Our own previews frame our own pages; nobody else may frame them (clickjacking).
    (b"x-frame-options", b"SAMEORIGIN"),
    (b"referrer-policy", b"same-origin"),
)


def headers_for(path: str, https: bool) -> list[tuple[bytes, bytes]]:
    """The headers every response to `path` carries unless it set its own."""
    policy = API_DOCS_CSP if path.startswith(API_DOCS) else APP_CSP
    return [*DEFAULTS, (b"content-security-policy", policy.encode()), *([HSTS] if https else [])]


def security_headers_middleware(app: ASGIApp) -> ASGIApp:
    https = get_settings().base_url.startswith("https://")

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        defaults = headers_for(scope["path"], https)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                message["headers"] = [*message.get("headers", []),
                                      *((name, value) for name, value in defaults if name not in present)]
            await send(message)

        await app(scope, receive, send_with_headers)

    return middleware
