"""The open pixel, the click redirect and the web version: public, no session, the tenant named by the token.

These are the busiest endpoints of the platform, so each does the least it can: check the token (no
I/O), append the event to the Redis stream through the process's group-committed appender, answer.
No PostgreSQL on the way, except once per process and campaign version to learn its links. They skip
the session and CSRF middleware (NO_SESSION in app/main.py) and the access log and request metrics
(app/web/tracking.py).

The web version (/v/) is rare beside them and renders the whole message, so it reads PostgreSQL and
renders on a render thread; its `web_view` event takes the same way into the stream.

Rate limits: none per request. The per-address buckets of app/services/public_limits.py cost a Redis
round trip per request, more than the whole hot path; a forged or altered token is refused by its
signature in about a microsecond with a 404, which is cheaper than counting it, and a genuine token only
ever records events for its own delivery, which the robot rules judge later.
"""

from __future__ import annotations

from urllib.parse import quote

from litestar import Controller, Request, get
from litestar.response.base import ASGIResponse

from app.logs import get_logger
from app.redis_client import get_redis
from app.services.tracking.events import CLICK, OPEN, appender, event_line
from app.services.tracking.link_tables import link_url
from app.services.tracking.tokens import TrackingKeys, delivery_ref, tracking_keys, url_is_signed
from app.services.tracking.urls import redirectable
from app.services.tracking.web_version import WEB_VIEW, web_version
from app.settings import get_settings

log = get_logger("ignite.tracking")
# The smallest transparent GIF: 1x1, one palette entry, 43 bytes.
PIXEL = (b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00"
         b",\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;")
# The responses are ASGI responses built directly, skipping Litestar's Response object and its
# per-request serialisation, header and cookie handling.
NO_CACHE = (("cache-control", "no-store, no-cache, must-revalidate, max-age=0"), ("pragma", "no-cache"),
            ("expires", "0"))
# The message is the customer's HTML: no script, no form, no same-origin access; links may open a new tab.
WEB_VERSION_HEADERS = (
    ("content-security-policy", "sandbox allow-popups allow-popups-to-escape-sandbox; default-src 'none'; "
                                "img-src https: http: data:; style-src 'unsafe-inline'; font-src https:"),
    ("x-content-type-options", "nosniff"), ("x-robots-tag", "noindex"),
    ("cache-control", "private, no-store"),
)
NOT_FOUND_PAGE = (b"<!doctype html><html><head><title>Not found</title></head>"
                  b"<body><p>This link is not valid.</p></body></html>")


def _keys() -> TrackingKeys:
    return tracking_keys(get_settings())


def _not_found() -> ASGIResponse:
    return ASGIResponse(body=NOT_FOUND_PAGE, status_code=404, media_type="text/html", headers=NO_CACHE)


async def _recorded(request: Request, kind: str, token: str, link: int | None = None, url: str = "") -> None:
    """Appends the event; when Redis is down the recipient is still served, and the loss is logged."""
    client = request.scope.get("client")
    line = event_line(kind, token, request.headers.get("user-agent", ""), client[0] if client else "", link, url)
    try:
        await appender(get_redis, get_settings().tracking.buffer_max).append(line)
    # Whatever Redis raised, the recipient gets the pixel or the redirect.
    except Exception as error:
        log.error("tracking_event_lost", kind=kind, error=f"{type(error).__name__}: {error}")


def _redirect(url: str) -> ASGIResponse:
    # Headers are Latin-1: characters beyond ASCII travel percent-encoded, everything else as written.
    location = quote(url, safe="!#$%&'()*+,/:;=?@[]~")
    return ASGIResponse(status_code=302, media_type="text/plain", headers=(("location", location), *NO_CACHE))


class TrackingController(Controller):
    include_in_schema = False

    @get("/o/{token:str}", name="track_open")
    async def open_pixel(self, request: Request, token: str) -> ASGIResponse:
        if delivery_ref(_keys(), token) is None:
            return _not_found()
        await _recorded(request, OPEN, token)
        return ASGIResponse(body=PIXEL, media_type="image/gif", headers=NO_CACHE)

    @get("/c/{token:str}/{index:int}", name="track_click")
    async def click(self, request: Request, token: str, index: int) -> ASGIResponse:
        keys = _keys()
        ref = delivery_ref(keys, token)
        url = await link_url(ref, index, keys) if ref is not None else None
        if url is None:
            return _not_found()
        await _recorded(request, CLICK, token, index)
        return _redirect(url)

    @get("/c/{token:str}/{index:int}/{signature:str}", name="track_personal_click")
    async def personal_click(self, request: Request, token: str, index: int, signature: str,
                             u: str = "") -> ASGIResponse:
        """A link built per recipient: the URL travels in `u`, and the signature binds it to this token."""
        keys = _keys()
        if (delivery_ref(keys, token) is None or not redirectable(u)
                or not url_is_signed(keys, token, index, u, signature)):
            return _not_found()
        await _recorded(request, CLICK, token, index, u)
        return _redirect(u)

    @get("/v/{token:str}", name="web_version")
    async def web_version_page(self, request: Request, token: str) -> ASGIResponse:
        """The message as its recipient got it (their links, tracked), counted as a web view."""
        html = await web_version(get_settings(), token)
        if html is None:
            return _not_found()
        await _recorded(request, WEB_VIEW, token)
        return ASGIResponse(body=html.encode(), media_type="text/html; charset=utf-8", headers=WEB_VERSION_HEADERS)
