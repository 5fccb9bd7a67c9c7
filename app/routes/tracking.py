"""The open pixel, the click redirect and the web version: public, no session, the tenant named by the token.

Opens and clicks are the busiest requests of the platform, so they are answered before Litestar sees
them (`tracking_fast_path`, around the app in `create_server`): no routing, no request object, no
middleware, no access log or metrics labels. Each checks the token (no I/O), appends the event to the
Redis stream through the process's group-committed appender, and answers. No PostgreSQL on the way,
except once per process and campaign version to learn its links. A path of theirs that does not parse
goes on to the app, which answers 404.

The web version (/v/) is rare beside them and renders the whole message, so it is an ordinary route: it
reads PostgreSQL and renders on a render thread; its `web_view` event takes the same way into the stream.

Rate limits: none per request. The per-address buckets of app/services/public_limits.py cost a Redis
round trip per request, more than the whole hot path; a forged or altered token is refused by its
signature in about a microsecond with a 404, which is cheaper than counting it, and a genuine token only
ever records events for its own delivery, which the robot rules judge later.
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import parse_qs, quote

from litestar import Controller, Request, get
from litestar.response.base import ASGIResponse
from litestar.types import ASGIApp, Receive, Scope, Send

from app.logs import get_logger
from app.redis_client import get_redis
from app.services.tracking.events import CLICK, OPEN, appender, event_line
from app.services.tracking.link_tables import link_url
from app.services.tracking.tokens import TrackingKeys, delivery_ref, tracking_keys, url_is_signed
from app.services.tracking.urls import redirectable
from app.services.tracking.web_version import WEB_VIEW, web_version
from app.settings import get_settings
from app.web.security import headers_for

log = get_logger("ignite.tracking")
# The smallest transparent GIF: 1x1, one palette entry, 43 bytes.
PIXEL = (b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00"
         b",\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;")
NO_CACHE = ((b"cache-control", b"no-store, no-cache, must-revalidate, max-age=0"), (b"pragma", b"no-cache"),
            (b"expires", b"0"))
# The message is the customer's HTML: no script, no form, no same-origin access; links may open a new tab.
WEB_VERSION_HEADERS = (
    ("content-security-policy", "sandbox allow-popups allow-popups-to-escape-sandbox; default-src 'none'; "
                                "img-src https: http: data:; style-src 'unsafe-inline'; font-src https:"),
    ("x-content-type-options", "nosniff"), ("x-robots-tag", "noindex"),
    ("cache-control", "private, no-store"),
)
NOT_FOUND_PAGE = (b"<!doctype html><html><head><title>Not found</title></head>"
                  b"<body><p>This link is not valid.</p></body></html>")
FAILED_PAGE = (b"<!doctype html><html><head><title>Try again</title></head>"
               b"<body><p>This link cannot be followed right now. Please try again in a minute.</p></body></html>")
# A link index beyond any message's links: refused before it reaches a table.
MAX_LINK_INDEX = 1_000_000

Headers = Sequence[tuple[bytes, bytes]]


def _keys() -> TrackingKeys:
    return tracking_keys(get_settings())


async def _recorded(scope: Scope, kind: str, token: str, link: int | None = None, url: str = "") -> None:
    """Appends the event; when Redis is down the recipient is still served, and the loss is logged."""
    agent = next((value for name, value in scope["headers"] if name == b"user-agent"), b"")
    client = scope.get("client")
    line = event_line(kind, token, agent.decode("latin-1"), client[0] if client else "", link, url)
    try:
        await appender(get_redis, get_settings().tracking.buffer_max).append(line)
    # Whatever Redis raised, the recipient gets the pixel or the redirect.
    except Exception as error:
        log.error("tracking_event_lost", kind=kind, error=f"{type(error).__name__}: {error}")


class _Answers:
    """The fast path's responses, with the security headers every response of the app carries."""

    def __init__(self, https: bool) -> None:
        common = (*NO_CACHE, *headers_for("/o/", https))
        self.pixel = ((b"content-type", b"image/gif"), (b"content-length", str(len(PIXEL)).encode()), *common)
        self.not_found = ((b"content-type", b"text/html; charset=utf-8"),
                          (b"content-length", str(len(NOT_FOUND_PAGE)).encode()), *common)
        self.failed = ((b"content-type", b"text/html; charset=utf-8"),
                       (b"content-length", str(len(FAILED_PAGE)).encode()), *common)
        self.redirect = ((b"content-length", b"0"), *common)


async def _answer(send: Send, status: int, headers: Headers, body: bytes = b"") -> None:
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _location(url: str) -> bytes:
    # Headers are Latin-1: characters beyond ASCII travel percent-encoded, everything else as written.
    return quote(url, safe="!#$%&'()*+,/:;=?@[]~").encode("latin-1")


async def _open(scope: Scope, send: Send, answers: _Answers, token: str) -> None:
    if delivery_ref(_keys(), token) is None:
        await _answer(send, 404, answers.not_found, NOT_FOUND_PAGE)
        return
    await _recorded(scope, OPEN, token)
    await _answer(send, 200, answers.pixel, PIXEL)


async def _click_url(scope: Scope, token: str, index: int, signature: str | None) -> str | None:
    """Where click `index` of the token's message goes, or None when the link is not genuine."""
    keys = _keys()
    ref = delivery_ref(keys, token)
    if ref is None:
        return None
    if signature is None:
        return await link_url(ref, index, keys)
    # A link built per recipient: the URL travels in `u`, and the signature binds it to this token.
    url = parse_qs(scope["query_string"].decode("latin-1")).get("u", [""])[0]
    return url if redirectable(url) and url_is_signed(keys, token, index, url, signature) else None


async def _click(scope: Scope, send: Send, answers: _Answers, token: str, index: int, signature: str | None) -> None:
    url = await _click_url(scope, token, index, signature)
    if url is None:
        await _answer(send, 404, answers.not_found, NOT_FOUND_PAGE)
        return
    await _recorded(scope, CLICK, token, index, url if signature is not None else "")
    await _answer(send, 302, ((b"location", _location(url)), *answers.redirect))


async def _served_fast(scope: Scope, send: Send, answers: _Answers) -> bool:
    """Answers an open or a click; False when the request is not one (the app answers it)."""
    parts = scope["path"].split("/")
    # "/o/<token>" splits into ["", "o", token]; "/c/<token>/<index>[/<signature>]" into 4 or 5 parts.
    if parts[1] == "o" and len(parts) == 3 and parts[2]:
        await _open(scope, send, answers, parts[2])
        return True
    if parts[1] == "c" and len(parts) in (4, 5) and parts[2] and parts[3].isdigit() and len(parts[3]) <= 7:
        index = int(parts[3])
        signature = parts[4] if len(parts) == 5 else None
        if index <= MAX_LINK_INDEX and signature != "":
            await _click(scope, send, answers, parts[2], index, signature)
            return True
    return False


def tracking_fast_path(app: ASGIApp) -> ASGIApp:
    """`app`, with opens and clicks answered in front of it."""
    answers = _Answers(get_settings().base_url.startswith("https://"))

    async def served(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET" and scope["path"][:3] in ("/o/", "/c/"):
            try:
                if await _served_fast(scope, send, answers):
                    return
            except Exception:
                # Only link tables read PostgreSQL here; the recipient gets a page, never a stack trace.
                log.exception("tracking_failed", path=scope["path"][:200])
                await _answer(send, 503, answers.failed, FAILED_PAGE)
                return
        await app(scope, receive, send)

    return served


class TrackingController(Controller):
    include_in_schema = False

    @get("/v/{token:str}", name="web_version")
    async def web_version_page(self, request: Request, token: str) -> ASGIResponse:
        """The message as its recipient got it (their links, tracked), counted as a web view."""
        html = await web_version(get_settings(), token)
        if html is None:
            return ASGIResponse(body=NOT_FOUND_PAGE, status_code=404, media_type="text/html",
                                headers=[(name.decode(), value.decode()) for name, value in NO_CACHE])
        await _recorded(request.scope, WEB_VIEW, token)
        return ASGIResponse(body=html.encode(), media_type="text/html; charset=utf-8", headers=WEB_VERSION_HEADERS)
