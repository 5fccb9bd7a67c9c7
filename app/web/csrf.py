"""CSRF protection with tokens bound to the signed-in session, so nobody can plant one.

Litestar's double-submit cookie accepts any pair of tokens the app ever issued: whoever can set a cookie
for the site (a sibling subdomain, one plain-HTTP hop) could plant their own pair in a victim's browser.
Here a token is a random nonce plus an HMAC of the nonce and the session it belongs to (the signed-in
session's id; nothing before sign-in). A state-changing request must send the token of its cookie, in the
`_csrf_token` form field or the X-CSRFToken header, and that token must be bound to the request's session.
The cookie is re-issued whenever the session changes (sign-in, sign-out), so later pages carry the new one.

Exempt paths are prefixes (never substrings): pages that carry no browser session, and public pages
posted from other sites where a signed token in the URL stands in for the CSRF token.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass

from litestar.connection import Request
from litestar.datastructures.cookie import Cookie
from litestar.exceptions import PermissionDeniedException
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from litestar.utils.scope.state import ScopeState

from app.web.sessions import session_binding

COOKIE = "ignite_csrf"
HEADER = "x-csrftoken"
FIELD = "_csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_NONCE_HEX = 32
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


@dataclass(frozen=True)
class CsrfConfig:
    secret: str
    exempt_prefixes: tuple[str, ...]
    secure: bool = False


def _mac(secret: str, nonce: str, binding: str) -> str:
    return hmac.new(secret.encode(), f"csrf|{nonce}|{binding}".encode(), hashlib.sha256).hexdigest()


def issued_token(secret: str, binding: str) -> str:
    nonce = secrets.token_hex(_NONCE_HEX // 2)
    return nonce + _mac(secret, nonce, binding)


def _same(first: str, second: str) -> bool:
    # Bytes: compare_digest refuses str with non-ASCII characters, and a cookie or form field may hold any.
    return hmac.compare_digest(first.encode(), second.encode())


def is_bound(secret: str, token: str, binding: str) -> bool:
    nonce, mac = token[:_NONCE_HEX], token[_NONCE_HEX:]
    return len(nonce) == _NONCE_HEX and _same(mac, _mac(secret, nonce, binding))


async def _submitted_tokens(request: Request) -> list[str]:
    """The tokens a request sends: the header's and the form field's. Both count, since a page reached by
    boosted navigation keeps the header of the page it was loaded with (say, before signing out). An upload
    sent with the header keeps its body unread: its route streams it."""
    header = request.headers.get(HEADER, "")
    if header and request.content_type[0] != "multipart/form-data":
        return [header, *await _form_token(request)]
    return [header] if header else await _form_token(request)


async def _form_token(request: Request) -> list[str]:
    if request.content_type[0] not in FORM_TYPES:
        return []
    value = (await request.form()).get(FIELD)
    return [value] if isinstance(value, str) else []


def csrf_middleware(config: CsrfConfig) -> Callable[[ASGIApp], ASGIApp]:
    """The middleware factory for `Litestar(middleware=[...])`; place it after the session middleware."""

    def factory(app: ASGIApp) -> ASGIApp:
        async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "http" or scope["path"].startswith(config.exempt_prefixes):
                await app(scope, receive, send)
                return
            request: Request = scope["litestar_app"].request_class(scope=scope, receive=receive)
            cookie = request.cookies.get(COOKIE, "")
            binding = session_binding(request)
            cookie_is_bound = bool(cookie) and is_bound(config.secret, cookie, binding)
            if scope["method"] not in SAFE_METHODS:
                submitted = await _submitted_tokens(request)
                if not (cookie_is_bound and any(_same(token, cookie) for token in submitted)):
                    raise PermissionDeniedException("CSRF token verification failed")
            token = cookie if cookie_is_bound else issued_token(config.secret, binding)
            ScopeState.from_scope(scope).csrf_token = token

            async def send_with_cookie(message: Message) -> None:
                if message["type"] == "http.response.start":
                    # The handler may have signed someone in or out: the token follows the session.
                    current = session_binding(request)
                    fresh = token if current == binding else issued_token(config.secret, current)
                    if fresh != cookie:
                        cookie_header = Cookie(key=COOKIE, value=fresh, path="/", httponly=True, samesite="lax",
                                               secure=config.secure).to_header(header="")
                        message["headers"] = [*message.get("headers", []),
                                              (b"set-cookie", cookie_header.encode("latin-1"))]
                await send(message)

            await app(scope, receive, send_with_cookie)

        return middleware

    return factory
