"""The tracking endpoints (/o/, /c/) pass by the per-request work every other route pays.

They are requested thousands of times a second by mail clients, not people: an access log line and a
labelled latency histogram per request would cost more than the endpoint itself. Their own figures come
from the stream and the aggregator instead.
"""

from __future__ import annotations

from collections.abc import Callable

from litestar.types import ASGIApp, Receive, Scope, Send

TRACKING_PATHS = ("/o/", "/c/")


def bypassed_by_tracking(factory: Callable[[ASGIApp], ASGIApp]) -> Callable[[ASGIApp], ASGIApp]:
    """`factory`'s middleware on every path except the tracking endpoints', which go straight to `app`."""

    def wrap(app: ASGIApp) -> ASGIApp:
        wrapped = factory(app)

        async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] == "http" and scope["path"].startswith(TRACKING_PATHS):
                await app(scope, receive, send)
            else:
                await wrapped(scope, receive, send)

        return middleware

    return wrap
