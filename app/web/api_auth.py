"""Who is calling the JSON API: the key in `Authorization: Bearer`, its scopes, its rate limit, idempotent writes.

`api_middleware` wraps every /api/v1 request (its documentation aside): it authenticates the key (401 with a
stable code otherwise), takes one token from the key's bucket (429 with Retry-After when empty), puts the
caller in the request state, adds `X-RateLimit-*` headers to every answer, and makes a write that carries an
`Idempotency-Key` answer every retry with its first answer. Its Redis commands travel together: a write's
token and its idempotency claim in one round trip, and the commands of the process's concurrent requests in one
pipeline (`_REDIS`), so a busy process pays one round trip for many requests. Every API controller derives from
`ApiController`: its guard holds the request to the scope the handler names in `opt={"scope": ...}` (a handler
naming none is refused; `"any"` lets every valid key in), and its handlers take the caller as the `caller`
parameter. A write handler may name a fast answer for its common case (`opt={"fast": ...}`, see `FAST`).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from litestar import Controller, Request
from litestar.connection import ASGIConnection
from litestar.datastructures import Headers, ResponseHeader
from litestar.di import Provide
from litestar.handlers.base import BaseRouteHandler
from litestar.openapi.datastructures import ResponseSpec
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from msgspec import Struct
from redis.asyncio import Redis
from redis.exceptions import NoScriptError

from app.redis_client import get_redis
from app.services import api_keys, audit, idempotency
from app.services.api_keys import KeyRecord
from app.services.throttling import MINUTE, Bucket, Grant, acquire
from app.services.throttling.buckets import Acquisition
from app.services.transactional.gathering import Gathering
from app.web.auth import client_ip
from app.web.errors import ApiError

ADMIN = api_keys.ADMIN
# The scope of handlers any valid key may call (the API root).
ANY = "any"
CALLER = "api_caller"
CHALLENGE = {"WWW-Authenticate": 'Bearer realm="ignite"'}
API = "/api/v1"
DOCS = "/api/v1/docs"
WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Refused attempts (no key, an unknown key) per client address per minute: guessing keys is slowed down,
# and no key's own bucket is touched by someone who does not hold it.
REFUSED_PER_MINUTE = 1200
# The largest body of a write (read whole, to check it and to fingerprint it for idempotency).
MAX_BODY = 64 * 1024 * 1024
# An escaped NUL in JSON text: a backslash-u0000 not itself escaped by a backslash before it.
JSON_NUL = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")
LIMIT_HEADERS = frozenset({"x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset", "retry-after"})
# A write handler's `opt={"fast": answer}`: `answer(caller, body)` answers its common case here, past the key, the
# bucket and the Idempotency-Key, without Litestar's parsing, guards and dependencies: (status, JSON body), or
# None to let the handler run as usual. It returns None for anything it does not take (a body it cannot decode,
# a refusal), which the handler then answers, so every answer and error keeps the handler's own shape.
FAST = "fast"


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


def bearer_secret(authorization: str) -> str:
    scheme, _, secret = authorization.strip().partition(" ")
    return secret.strip() if scheme.lower() == "bearer" else ""


FastAnswer = Callable[[ApiCaller, bytes], Awaitable[tuple[int, bytes] | None]]


def caller_of(record: KeyRecord) -> ApiCaller:
    return ApiCaller(key_id=record.id, workspace_id=record.workspace_id, sandbox=record.sandbox,
                     scopes=record.scopes)


async def authenticated_key(connection: ASGIConnection) -> KeyRecord:
    """The key of a request, from `Authorization: Bearer`; ApiError 401 with the reason otherwise."""
    secret = bearer_secret(connection.headers.get("authorization", ""))
    if not secret:
        raise ApiError(401, "missing_key", "An API key is required: send it as 'Authorization: Bearer <key>'.",
                       headers=CHALLENGE)
    try:
        return await api_keys.authenticated(get_redis(), secret, client_ip(connection))
    except api_keys.KeyRefused as refused:
        raise ApiError(401, refused.code, refused.message, headers=CHALLENGE) from None


async def api_key_required(connection: ASGIConnection, route_handler: BaseRouteHandler) -> None:
    """Let the request through when its key (authenticated by `api_middleware`, or here) has the scope the
    handler names."""
    state = connection.scope.setdefault("state", {})
    caller = state.get(CALLER)
    if caller is None:
        caller = state[CALLER] = caller_of(await authenticated_key(connection))
    scope = route_handler.opt.get("scope")
    if scope == ANY:
        return
    if not scope or not caller.may(scope):
        raise ApiError(403, "insufficient_scope", f"This key lacks the scope {scope!r} this endpoint needs.",
                       {"scope": scope or "none named"})


def api_actor(caller: ApiCaller, connection: ASGIConnection) -> audit.Actor:
    """Who the audit log names for a change made through the API: the key, from its address."""
    return audit.Actor(user_id=None, email=f"API key #{caller.key_id}", ip=client_ip(connection))


def current_caller(request: Request) -> ApiCaller:
    """The `caller` dependency of API handlers."""
    return request.state.api_caller


RATE_LIMIT_HEADERS = [
    ResponseHeader(name="X-RateLimit-Limit", documentation_only=True,
                   description="The key's limit, in requests per minute."),
    ResponseHeader(name="X-RateLimit-Remaining", documentation_only=True,
                   description="Requests the key may make right now."),
    ResponseHeader(name="X-RateLimit-Reset", documentation_only=True,
                   description="Seconds until the key's full limit is available again."),
]


class ApiController(Controller):
    guards = [api_key_required]
    dependencies = {"caller": Provide(current_caller, sync_to_thread=False)}
    response_headers = RATE_LIMIT_HEADERS


# The middleware ---------------------------------------------------------------------------------------


def key_bucket(record: KeyRecord) -> Bucket:
    return Bucket(f"throttle:api-key:{record.id}:minute", record.rate_limit, MINUTE)


def refused_bucket(ip: str) -> Bucket:
    return Bucket(f"throttle:api-refused:{ip}:minute", REFUSED_PER_MINUTE, MINUTE)


def limit_headers(bucket: Bucket, grant: Grant) -> list[tuple[bytes, bytes]]:
    """`X-RateLimit-*`: the limit per minute, the requests left now, seconds until the bucket is full again."""
    remaining = grant.remaining.get(bucket.key, 0)
    reset = math.ceil((bucket.capacity - remaining) / bucket.limit * bucket.period)
    headers = [(b"x-ratelimit-limit", str(int(bucket.limit)).encode()),
               (b"x-ratelimit-remaining", str(remaining).encode()),
               (b"x-ratelimit-reset", str(reset).encode())]
    if not grant.granted:
        headers.append((b"retry-after", str(max(1, math.ceil(grant.retry_after))).encode()))
    return headers


def _with_headers(send: Send, extra: list[tuple[bytes, bytes]]) -> Send:
    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            message["headers"] = [*message.get("headers", []), *extra]
        await send(message)

    return sending


async def _answer(scope: Scope, send: Send, status: int, code: str, message: str,
                  headers: dict[str, str] | None = None) -> None:
    """An error in the API's own shape, answered before any handler runs."""
    request_id = scope.get("state", {}).get("request_id", "")
    body = json.dumps({"error": {"code": code, "message": message, "request_id": request_id}}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            *((name.lower().encode(), value.encode()) for name, value in (headers or {}).items())]})
    await send({"type": "http.response.body", "body": body})


async def _read_body(receive: Receive) -> bytes | None:
    """The whole request body, or None when it is larger than `MAX_BODY`."""
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replaying(body: bytes, receive: Receive) -> Receive:
    """A `receive` that gives the app the body already read, then whatever the client sends next."""
    pending = [{"type": "http.request", "body": body, "more_body": False}]

    async def replay() -> Message:
        return pending.pop() if pending else await receive()

    return replay


async def _replay(send: Send, answer: idempotency.StoredAnswer) -> None:
    headers = [(name.encode(), value.encode()) for name, value in answer.headers]
    await send({"type": "http.response.start", "status": answer.status,
                "headers": [*headers, (b"idempotent-replayed", b"true")]})
    await send({"type": "http.response.body", "body": answer.body})


async def _pipelined(_: str, parts: Sequence[Sequence[tuple[Any, ...]]]) -> list[list[Any]]:
    """Every part's commands in one pipeline (not a transaction): each part's replies, an error as its exception."""
    async with get_redis().pipeline(transaction=False) as pipe:
        for commands in parts:
            for command in commands:
                pipe.execute_command(*command)
        replies = await pipe.execute(raise_on_error=False)
    answers, at = [], 0
    for commands in parts:
        answers.append(replies[at:at + len(commands)])
        at += len(commands)
    return answers


# The Redis commands of the API requests of this process that are under way together, sent as one pipeline.
_REDIS: Gathering[str, Sequence[tuple[Any, ...]], list[Any]] = Gathering(_pipelined, most=1024)


async def _sent(commands: Sequence[tuple[Any, ...]]) -> list[Any]:
    replies = await _REDIS(API, commands)
    for reply in replies:
        if isinstance(reply, Exception):
            raise reply
    return replies


async def _limited(bucket: Bucket, commands: Sequence[tuple[Any, ...]]) -> tuple[Grant, list[Any]]:
    """A token of the key's bucket, and more commands in the same round trip: the grant and their replies."""
    acquisition = Acquisition.of([([bucket], 1)])
    [reply, *replies] = await _REDIS(API, [acquisition.command(), *commands])
    if isinstance(reply, NoScriptError):  # nothing was taken: the server lost its scripts
        reply = await acquisition.run(get_redis())
    for failed in (reply, *replies):
        if isinstance(failed, Exception):
            raise failed
    [grant] = acquisition.grants(reply)
    return grant, replies


async def _idempotent(app: ASGIApp, scope: Scope, receive: Receive, send: Send, body: bytes, entry: str,
                      request_fingerprint: str, replies: list[Any]) -> None:
    """Run a write once per (key, Idempotency-Key); replay its answer to every retry with the same request."""
    try:
        first = idempotency.first_claim(replies, request_fingerprint)
        stored = None if first.run else first.answer or await idempotency.claim(get_redis(), entry,
                                                                               request_fingerprint)
    except idempotency.IdempotencyConflict:
        await _answer(scope, send, 409, "idempotency_conflict",
                      "This Idempotency-Key was used with another request: use a new key for a new request.")
        return
    except idempotency.StillRunning:
        await _answer(scope, send, 409, "idempotency_in_progress",
                      "The first request with this Idempotency-Key is still running: retry in a moment.")
        return
    if stored is not None:
        await _replay(send, stored)
        return
    await _run_and_keep(app, scope, receive, send, body, entry, request_fingerprint)


async def _run_and_keep(app: ASGIApp, scope: Scope, receive: Receive, send: Send, body: bytes, entry: str,
                        request_fingerprint: str) -> None:
    status, headers, chunks = 0, [], []

    async def capturing(message: Message) -> None:
        nonlocal status, headers
        if message["type"] == "http.response.start":
            status = message["status"]
            headers = [(name.decode("latin-1"), value.decode("latin-1")) for name, value in message.get("headers", [])
                       if name.decode("latin-1").lower() not in LIMIT_HEADERS]
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))
        await send(message)

    answer = None
    try:
        await _handled(app, scope, receive, capturing, body)
        answer = idempotency.StoredAnswer(status, headers, b"".join(chunks)) if status else None
    finally:
        await _sent([idempotency.settle_command(entry, request_fingerprint, answer)])


async def _refused(scope: Scope, send: Send, redis: Redis, refusal: ApiError) -> None:
    """A 401 (or 429 for an address that keeps presenting bad keys), counted against the address only."""
    bucket = refused_bucket(client_ip(ASGIConnection(scope)) or "unknown")
    grant = await acquire(redis, [bucket])
    send = _with_headers(send, limit_headers(bucket, grant))
    if not grant.granted:
        await _answer(scope, send, 429, "rate_limited", "Too many refused requests from this address: slow down.")
        return
    await _answer(scope, send, refusal.status_code, refusal.code, refusal.detail, refusal.headers)


def is_api_request(scope: Scope) -> bool:
    path = scope["path"]
    return scope["type"] == "http" and (path == API or path.startswith(f"{API}/")) and not path.startswith(DOCS)


def api_middleware(app: ASGIApp) -> ASGIApp:
    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if not is_api_request(scope):
            await app(scope, receive, send)
            return
        if CALLER in scope.get("state", {}):  # metered already, by an outer copy of this middleware
            await app(scope, receive, send)
            return
        redis = get_redis()
        try:
            record = await authenticated_key(ASGIConnection(scope))
        except ApiError as refusal:
            await _refused(scope, send, redis, refusal)
            return
        if scope["method"] in WRITES:
            await _write(app, scope, receive, send, record)
            return
        bucket = key_bucket(record)
        grant, _ = await _limited(bucket, ())
        send = _with_headers(send, limit_headers(bucket, grant))
        if not grant.granted:
            await _over_limit(scope, send, record)
            return
        scope.setdefault("state", {})[CALLER] = caller_of(record)
        await app(scope, receive, send)

    return middleware


async def _over_limit(scope: Scope, send: Send, record: KeyRecord) -> None:
    await _answer(scope, send, 429, "rate_limited",
                  f"Over this key's limit of {record.rate_limit:,} requests per minute: wait for Retry-After.")


TOO_LARGE = (413, "payload_too_large", "This request body is too large.")


def _body_refusal(body: bytes | None, headers: Headers) -> tuple[int, str, str] | None:
    """Why a write is answered without running: its body (too large, or holding a NUL) or its Idempotency-Key."""
    if body is None:
        return TOO_LARGE
    if "json" in headers.get("content-type", "") and JSON_NUL.search(body):
        # PostgreSQL text cannot hold a NUL character: refused here for every endpoint, not as a 500.
        return 400, "invalid_body", "The body holds a NUL character (\\u0000)."
    idempotency_key = headers.get("idempotency-key")
    if idempotency_key is not None and not 0 < len(idempotency_key) <= idempotency.MAX_KEY_LENGTH:
        return (400, "invalid_idempotency_key",
                f"An Idempotency-Key is 1 to {idempotency.MAX_KEY_LENGTH} characters.")
    return None


async def _write(app: ASGIApp, scope: Scope, receive: Receive, send: Send, record: KeyRecord) -> None:
    """A write, its body read whole and checked; then the key's token and the Idempotency-Key's claim are asked
    for in one round trip, and the write runs (once per Idempotency-Key when it carries one)."""
    headers = Headers.from_scope(scope)
    body = await _read_body(receive)
    refusal = _body_refusal(body, headers)
    idempotency_key = headers.get("idempotency-key") if refusal is None else None
    entry = request_fingerprint = ""
    commands: list[tuple[Any, ...]] = []
    if idempotency_key is not None and body is not None:
        query = scope.get("query_string", b"").decode("latin-1")
        request_fingerprint = idempotency.fingerprint(scope["method"], f"{scope['path']}?{query}", body)
        entry = idempotency.entry_key(record.id, idempotency_key)
        commands = idempotency.claim_commands(entry, request_fingerprint)
    bucket = key_bucket(record)
    grant, replies = await _limited(bucket, commands)
    send = _with_headers(send, limit_headers(bucket, grant))
    if not grant.granted:
        if replies and replies[0]:  # claimed along with the token: freed, since the write does not run
            await _sent([("DEL", entry)])
        await _over_limit(scope, send, record)
        return
    if refusal is not None or body is None:
        await _answer(scope, send, *(refusal or TOO_LARGE))
        return
    scope.setdefault("state", {})[CALLER] = caller_of(record)
    if idempotency_key is None:
        await _handled(app, scope, _replaying(body, receive), send, body)
        return
    await _idempotent(app, scope, _replaying(body, receive), send, body, entry, request_fingerprint, replies)


async def _handled(app: ASGIApp, scope: Scope, receive: Receive, send: Send, body: bytes) -> None:
    """The write run by the rest of the app, or answered by its handler's fast answer (`FAST`) when it names one,
    the caller has the handler's scope and the request has no query."""
    handler = scope.get("route_handler")
    fast: FastAnswer | None = handler.opt.get(FAST) if handler is not None else None
    caller = scope["state"][CALLER]
    if fast is not None and not scope.get("query_string") and caller.may(handler.opt.get("scope") or ""):
        answer = await fast(caller, body)
        if answer is not None:
            status, payload = answer
            await send({"type": "http.response.start", "status": status,
                        "headers": [(b"content-type", b"application/json"),
                                    (b"content-length", str(len(payload)).encode())]})
            await send({"type": "http.response.body", "body": payload, "more_body": False})
            return
    await app(scope, receive, send)


# OpenAPI ----------------------------------------------------------------------------------------------


class ErrorDetail(Struct):
    code: str
    message: str
    request_id: str = ""
    # What is wrong with each field, by its path in the body: `{"recipients[0].to": "message"}`.
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
    """OpenAPI descriptions of the errors an endpoint answers, beside the ones every endpoint may (401, 403, 429)."""
    return {status: ResponseSpec(ErrorBody, description=_ERROR_MEANINGS[status], generate_examples=False)
            for status in sorted({401, 403, 429, *statuses})}

