"""The conversion postback: `GET|POST /postback`, called by affiliate networks' servers, answered in JSON.

Public: no session, no CSRF token (NO_SESSION in app/main.py); the workspace's postback key in the
parameters stands in for both. Parameters come from the query string and, for a POST, from a form or
JSON body (the body's win). Every answer is JSON with a stable code, which the network's postback log
shows: 200 `recorded` or `duplicate` (a replay, counted once), else `{"error": {"code", "message"}}`.
"""

from __future__ import annotations

import json
from typing import Any

from litestar import Controller, Request, Response, route
from redis.asyncio import Redis

from app.services.public_limits import RateLimited
from app.services.tracking.conversions import PostbackRefused, record_postback
from app.web.auth import client_ip

_FORMS = ("application/x-www-form-urlencoded", "multipart/form-data")


def _refused(_: Request, exc: PostbackRefused) -> Response:
    return Response({"error": {"code": exc.code, "message": exc.message}}, status_code=exc.status)


def _rate_limited(_: Request, exc: RateLimited) -> Response:
    return Response({"error": {"code": "rate_limited", "message": exc.message}}, status_code=429,
                    headers={"Retry-After": str(exc.retry_after)})


def _flat(values: Any) -> dict[str, str]:
    return {str(key): str(value) for key, value in values.items() if isinstance(value, str | int | float)}


async def _parameters(request: Request) -> dict[str, str]:
    """The query's parameters (the first of each name), overridden by those of a form or JSON body."""
    params = {key: values[0] for key, values in request.query_params.dict().items() if values}
    if request.method != "POST":
        return params
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type in _FORMS:
        params.update(_flat(await request.form()))
    elif media_type == "application/json":
        try:
            body = json.loads(await request.body())
        except ValueError as error:
            raise PostbackRefused("invalid_body", "The body is not valid JSON.", 400) from error
        if not isinstance(body, dict):
            raise PostbackRefused("invalid_body", "The JSON body must be an object of parameters.", 400)
        params.update(_flat(body))
    return params


class PostbackController(Controller):
    include_in_schema = False
    exception_handlers = {PostbackRefused: _refused, RateLimited: _rate_limited}

    @route("/postback", http_method=["GET", "POST"], name="conversion_postback")
    async def postback(self, request: Request, redis: Redis) -> Response:
        recorded = await record_postback(redis, await _parameters(request), client_ip(request))
        return Response({"status": "duplicate" if recorded.duplicate else "recorded",
                         "conversion_id": recorded.conversion_id}, status_code=200)
