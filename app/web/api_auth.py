"""Who is calling the JSON API: the key in `Authorization: Bearer`, its scopes, its rate limit, idempotent POSTs.

Every API controller derives from `ApiController`: its guard authenticates the key and holds the request to
the scope the handler names in `opt={"scope": ...}` (a handler naming none is refused), and its handlers take
the caller as the `caller` parameter. `api_middleware` wraps every /api/ request: rate-limit headers on each
answer, 429 with Retry-After, and the `Idempotency-Key` of POSTs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from litestar import Controller, Request
from litestar.connection import ASGIConnection
from litestar.di import Provide
from litestar.handlers.base import BaseRouteHandler
from litestar.openapi.datastructures import ResponseSpec
from litestar.types import ASGIApp
from msgspec import Struct

from app.redis_client import get_redis
from app.services import api_keys
from app.services.api_keys import KeyRecord
from app.web.auth import client_ip
from app.web.errors import ApiError

ADMIN = api_keys.ADMIN


@dataclass(frozen=True)
class ApiCaller:
    """The authenticated key behind a request: the workspace every query is held to, and what it may do."""

    key_id: int
    workspace_id: int
    # A test key (`ig_test_…`): validated, stored and evented as if sent; nothing leaves the machine.
    sandbox: bool
    scopes: frozenset[str]

    def may(self, scope: str) -> bool:
        return ADMIN in self.scopes or scope in self.scopes


CALLER = "api_caller"
# The scope of handlers any valid key may call (the API root).
ANY = "any"
CHALLENGE = {"WWW-Authenticate": 'Bearer realm="ignite"'}


def bearer_secret(authorization: str) -> str:
    scheme, _, secret = authorization.strip().partition(" ")
    return secret.strip() if scheme.lower() == "bearer" else ""


def caller_of(record: KeyRecord) -> ApiCaller:
    return ApiCaller(key_id=record.id, workspace_id=record.workspace_id, sandbox=record.sandbox,
                     scopes=record.scopes)


async def authenticate(connection: ASGIConnection) -> ApiCaller:
    """The caller of a request, from its `Authorization: Bearer` key; ApiError 401 with the reason otherwise."""
    secret = bearer_secret(connection.headers.get("authorization", ""))
    if not secret:
        raise ApiError(401, "missing_key", "An API key is required: send it as 'Authorization: Bearer <key>'.",
                       headers=CHALLENGE)
    try:
        record = await api_keys.authenticated(get_redis(), secret, client_ip(connection))
    except api_keys.KeyRefused as refused:
        raise ApiError(401, refused.code, refused.message, headers=CHALLENGE) from None
    return caller_of(record)


async def api_key_required(connection: ASGIConnection, route_handler: BaseRouteHandler) -> None:
    """Let the request through when its key (authenticated by `api_middleware`, or here) has the scope the
    handler names."""
    state = connection.scope.setdefault("state", {})
    caller = state.get(CALLER)
    if caller is None:
        caller = state[CALLER] = await authenticate(connection)
    scope = route_handler.opt.get("scope")
    if scope == ANY:
        return
    if not scope or not caller.may(scope):
        raise ApiError(403, "insufficient_scope", f"This key lacks the scope {scope!r} this endpoint needs.",
                       {"scope": scope or "none named"})


def current_caller(request: Request) -> ApiCaller:
    """The `caller` dependency of API handlers."""
    return request.state.api_caller


class ApiController(Controller):
    guards = [api_key_required]
    dependencies = {"caller": Provide(current_caller, sync_to_thread=False)}


def api_middleware(app: ASGIApp) -> ASGIApp:
    return app


class ErrorDetail(Struct):
    code: str
    message: str
    request_id: str = ""
    fields: dict[str, Any] | None = None


class ErrorBody(Struct):
    error: ErrorDetail


_ERROR_MEANINGS = {
    400: "The request was not understood: a malformed body, parameter or cursor.",
    401: "No key, an unknown, expired or revoked key, or a key used from an address it does not allow.",
    403: "The key lacks the scope this endpoint needs (`insufficient_scope`).",
    404: "No such thing in this key's workspace.",
    409: "A conflict: the Idempotency-Key was used with another body, or the thing changed meanwhile.",
    422: "Refused input: `fields` names each field and what is wrong with it.",
    429: "Over the key's rate limit: wait for Retry-After seconds.",
}


def error_responses(*statuses: int) -> dict[int, ResponseSpec]:
    """OpenAPI descriptions of the errors an endpoint answers, beside the ones every endpoint may (401, 429)."""
    return {status: ResponseSpec(ErrorBody, description=_ERROR_MEANINGS[status], generate_examples=False)
            for status in sorted({401, 429, *statuses})}
