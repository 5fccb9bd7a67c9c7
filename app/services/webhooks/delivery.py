"""Posting deliveries: signed, to the address checked at send time, retried with backoff, then given up.

Each attempt POSTs the event's JSON with `X-Ignite-Signature: v1=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>`,
`X-Ignite-Timestamp`, `X-Ignite-Event` and `X-Ignite-Delivery`; redirects are not followed (a 3xx is a
failure: following one would let a public endpoint send us inside). A 2xx is delivered; anything else is
tried again after 30 s, 2 min, 10 min, 1 h and 6 h, then the delivery fails, and an endpoint whose
deliveries kept failing is disabled with a notice in the activity feed and the audit log.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from typing import Any

import httpx
from redis.asyncio import Redis

from app.db.webhooks import WebhookEndpoint
from app.services import audit, statements, vault
from app.services.webhooks.events import WAKE_KEY, envelope, forget_listening
from app.services.webhooks.targets import target_of

# Seconds to wait after the 1st, 2nd, … failed attempt; after the last one the delivery has failed.
BACKOFF_SECONDS = (30, 120, 600, 3600, 6 * 3600)
# Consecutive failed attempts after which an endpoint whose delivery gave up is disabled.
DISABLE_AFTER = len(BACKOFF_SECONDS) + 1
TIMEOUT = httpx.Timeout(10.0, connect=5.0)
CLAIM_SIZE = 100
LEASE_SECONDS = 120
AT_ONCE = 20
# Requests in flight to one endpoint; its deliveries go in order, this many at a time.
PER_ENDPOINT = 4
EXCERPT = 500
USER_AGENT = "Ignite-Webhooks/1"
# The delivery log keeps this many days; older rows that are done with go, a batch at a time, once an hour.
KEEP_DAYS = 30
FORGET_BATCH = 10_000
FORGET_KEY = "ignite:webhooks:forgotten"


@dataclass(frozen=True)
class Attempt:
    delivery_id: int
    delivered: bool
    status_code: int = 0
    error: str = ""
    excerpt: str = ""
    # No answer at all (refused, timed out): the endpoint's other deliveries of the batch are not sent.
    unreachable: bool = False


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """What a receiver recomputes to trust a delivery: HMAC-SHA256 of "<timestamp>.<body>" with the secret."""
    return hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def signed_headers(secret: str, row: dict[str, Any], body: bytes, timestamp: int) -> dict[str, str]:
    stamp = str(timestamp)
    return {"Content-Type": "application/json", "User-Agent": USER_AGENT, "X-Ignite-Timestamp": stamp,
            "X-Ignite-Signature": f"v1={signature(secret, stamp, body)}", "X-Ignite-Event": row["kind"],
            "X-Ignite-Delivery": str(row["id"])}


def retry_in(attempts_before: int) -> int:
    """Seconds until the next attempt after one more failure; -1 when that failure was the last allowed."""
    return BACKOFF_SECONDS[attempts_before] if attempts_before < len(BACKOFF_SECONDS) else -1


async def post(client: httpx.AsyncClient, endpoint: dict[str, Any], row: dict[str, Any],
               allow_private: bool) -> Attempt:
    """One attempt of one delivery; never raises for the receiver's failures."""
    body = json.dumps(envelope(row), separators=(",", ":")).encode()
    try:
        target = await target_of(endpoint["url"], allow_private)
        headers = {**signed_headers(vault.decrypt(endpoint["secret"]), row, body, int(time.time())),
                   "Host": target.host_header}
        extensions = {"sni_hostname": target.server_name} if target.server_name else {}
        async with client.stream("POST", target.url, content=body, headers=headers,
                                 extensions=extensions) as response:
            status, excerpt = response.status_code, await _excerpt(response)
    except ValueError as refused:  # TargetRefused, VaultError: nothing was sent
        return Attempt(row["id"], False, error=str(refused)[:EXCERPT])
    except httpx.TransportError as error:
        return Attempt(row["id"], False, error=f"{type(error).__name__}: {error}"[:EXCERPT], unreachable=True)
    except (httpx.HTTPError, httpx.InvalidURL) as error:
        return Attempt(row["id"], False, error=f"{type(error).__name__}: {error}"[:EXCERPT])
    if 200 <= status < 300:
        return Attempt(row["id"], True, status, excerpt=excerpt)
    return Attempt(row["id"], False, status, f"The endpoint answered {status}.", excerpt)


async def _excerpt(response: httpx.Response) -> str:
    """The start of the answer, for the log; the rest is never read (an endpoint may answer without end)."""
    read = b""
    async for chunk in response.aiter_bytes():
        read += chunk
        if len(read) >= EXCERPT * 4:
            break
    return read.decode("utf-8", "replace")[:EXCERPT]


async def _endpoints(ids: set[int]) -> dict[int, dict[str, Any]]:
    rows = await WebhookEndpoint.select().where(WebhookEndpoint.id.is_in(list(ids)))
    return {row["id"]: row for row in rows}


async def _private_allowed(workspace_ids: set[int]) -> set[int]:
    rows = await statements.run("webhooks.private-allowed", list(workspace_ids))
    return {row["workspace_id"] for row in rows}


def _not_sent(rows: list[dict[str, Any]], cause: Attempt) -> list[Attempt]:
    error = f"Not sent: the endpoint did not answer the delivery before it ({cause.error})"[:EXCERPT]
    return [Attempt(row["id"], False, error=error) for row in rows]


async def _attempts_to(client: httpx.AsyncClient, gate: asyncio.Semaphore, endpoint: dict[str, Any],
                       rows: list[dict[str, Any]], allow_private: bool) -> list[Attempt]:
    """One endpoint's deliveries in order, `PER_ENDPOINT` at a time. Once it does not answer at all, the rest
    count as failed without waiting for each to time out, so one dead endpoint cannot hold up the others."""

    async def one(row: dict[str, Any]) -> Attempt:
        async with gate:
            return await post(client, endpoint, row, allow_private)

    attempts: list[Attempt] = []
    for start in range(0, len(rows), PER_ENDPOINT):
        done = await asyncio.gather(*(one(row) for row in rows[start:start + PER_ENDPOINT]))
        attempts += done
        unreachable = next((attempt for attempt in done if attempt.unreachable), None)
        if unreachable is not None:
            return attempts + _not_sent(rows[start + PER_ENDPOINT:], unreachable)
    return attempts


async def attempt_all(rows: list[dict[str, Any]]) -> list[Attempt]:
    """One attempt of each claimed delivery: endpoints side by side, `AT_ONCE` requests in flight at most."""
    endpoints = await _endpoints({row["endpoint_id"] for row in rows})
    allowed = await _private_allowed({row["workspace_id"] for row in rows})
    by_endpoint: dict[int, list[dict[str, Any]]] = {}
    for row in sorted(rows, key=lambda row: row["id"]):
        by_endpoint.setdefault(row["endpoint_id"], []).append(row)
    gate = asyncio.Semaphore(AT_ONCE)
    async with httpx.AsyncClient(timeout=TIMEOUT, follow_redirects=False, trust_env=False) as client:
        done = await asyncio.gather(*(
            _attempts_to(client, gate, endpoints[endpoint_id], found, found[0]["workspace_id"] in allowed)
            for endpoint_id, found in by_endpoint.items()))
    return [attempt for attempts in done for attempt in attempts]


async def record(rows: list[dict[str, Any]], attempts: list[Attempt]) -> list[dict[str, Any]]:
    """The attempts written back; the endpoints that gave up a delivery after failing `DISABLE_AFTER` times."""
    before = {row["id"]: row for row in rows}
    delays = [-1 if before[a.delivery_id]["kind"] == "ping" else retry_in(before[a.delivery_id]["attempts"])
              for a in attempts]
    endpoints = await statements.run(
        "webhooks.record-attempts", [a.delivery_id for a in attempts], [a.delivered for a in attempts],
        [a.status_code for a in attempts], [a.error for a in attempts], [a.excerpt for a in attempts], delays)
    return [row for row in endpoints if row["exhausted"] and row["failures"] >= DISABLE_AFTER]


async def disable(redis: Redis, endpoint: dict[str, Any]) -> None:
    """Stop posting to an endpoint that kept failing, and say so where admins look (feed, audit, the page)."""
    reason = (f"Disabled after {endpoint['failures']} failed attempts in a row; fix the endpoint, then enable "
              "it again: deliveries still waiting are then posted.")
    disabled = await statements.run("webhooks.disable", endpoint["id"], reason)
    if not disabled:
        return
    forget_listening(endpoint["workspace_id"])
    await audit.record(redis, endpoint["workspace_id"], audit.SYSTEM, "webhook_endpoint.failing",
                       "webhook_endpoint", endpoint["id"], {"url": endpoint["url"], "reason": reason})


async def deliver_due(redis: Redis, limit: int = CLAIM_SIZE) -> int:
    """Claim due deliveries and post each once; how many were attempted."""
    rows = await statements.run("webhooks.claim-due", limit, LEASE_SECONDS)
    if not rows:
        return 0
    for endpoint in await record(rows, await attempt_all(rows)):
        await disable(redis, endpoint)
    return len(rows)


async def deliver_until_idle(redis: Redis, seconds: float) -> int:
    """Post due deliveries until none is left or `seconds` have passed; how many were attempted.

    The wake flag is cleared before looking, so an event queued after this look sends a new wake."""
    await redis.delete(WAKE_KEY)
    deadline = time.monotonic() + seconds
    total = 0
    while time.monotonic() < deadline:
        attempted = await deliver_due(redis)
        total += attempted
        if not attempted:
            break
    return total


async def forget_old(redis: Redis, keep_days: int = KEEP_DAYS) -> int:
    """Deliveries older than the log keeps, deleted (at most once an hour per platform); how many went."""
    if not await redis.set(FORGET_KEY, "1", nx=True, ex=3600):
        return 0
    forgotten = 0
    while True:
        rows = await statements.run("webhooks.forget-old", keep_days, FORGET_BATCH)
        forgotten += len(rows)
        if len(rows) < FORGET_BATCH:
            return forgotten
