"""Sending through the routing layer: every message takes its tokens, goes to its server, and fails over.

This module sends a few messages at a time (tests, account mail); campaign batches go through
`sending_batches`, which shares its adapters, buckets and failover order.

A transient failure (4xx, or the server unreachable) moves the message to
the next server of its pool; a server's own failures (no reply code) count
towards its circuit breaker, reply codes towards the adaptive rate of its
(server, domain group). A permanent 5xx is the recipient's answer and is
not retried elsewhere. When no server can take a message now it is
deferred with the shortest wait any bucket asked for, never busy-waited.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from redis.asyncio import Redis

from app.db.delivery import DeliveryServer
from app.esp.base import EmailServiceProvider, OutgoingMessage, SendResult
from app.esp.registry import adapter_for
from app.services.delivery_servers import stored_secrets
from app.services.routing import BREAKER, OTHERS, Candidate, RoutingContext, quota_buckets, route, routing_context
from app.services.sqlparams import fetch_positional
from app.services.system_mail import default_sender
from app.services.tenancy import owned_by
from app.services.throttling import (
    DAY,
    HOUR,
    MONTH,
    AimdPolicy,
    Bucket,
    Outcomes,
    acquire,
    adjust_rate,
    current_rate,
    domain_group_bucket,
    record_failure,
    record_outcomes,
    record_success,
    workspace_bucket,
)
from app.services.throttling.restore import needs_restore, period_usage, restore
from app.settings import get_settings

DEFAULT_DEFER_SECONDS = 60.0
# What each server of a workspace sent in the last hour, day and month: the campaigns still sending, or
# finished within the month, and their sent deliveries (through the (campaign_id, email) index).
_SENT_BY_SERVER = """
SELECT d.server_id,
       count(*) FILTER (WHERE d.sent_at > now() - interval '1 hour') AS hour,
       count(*) FILTER (WHERE d.sent_at > now() - interval '1 day') AS day,
       count(*) AS month
FROM campaigns c JOIN deliveries d ON d.campaign_id = c.id
WHERE c.workspace_id = $1::integer AND d.workspace_id = $1::integer
  AND (c.status IN ('sending', 'paused', 'stream') OR c.finished_at > now() - interval '30 days')
  AND d.status = 'sent' AND d.server_id IS NOT NULL AND d.sent_at > now() - interval '30 days'
GROUP BY d.server_id
"""


@dataclass
class Outcome:
    message: OutgoingMessage
    server: str = ""
    result: SendResult | None = None
    deferred_for: float = 0.0
    attempts: list[str] = field(default_factory=list)

    @property
    def accepted(self) -> bool:
        return self.result is not None and self.result.accepted


class Adapters:
    """One adapter per server, kept open (with its pooled connections) until `aclose`.

    A server edited since its adapter was built gets a new adapter, so a changed host or password
    takes effect on the next message even in a long-lived worker.
    """

    def __init__(self) -> None:
        self._open: dict[int, tuple[object, EmailServiceProvider]] = {}
        self._retired: list[EmailServiceProvider] = []

    def for_server(self, server: dict[str, Any]) -> EmailServiceProvider:
        version = server.get("updated_at")
        known = self._open.get(server["id"])
        if known is not None and known[0] == version:
            return known[1]
        if known is not None:
            self._retired.append(known[1])
        adapter = adapter_for(server, stored_secrets(server))
        self._open[server["id"]] = (version, adapter)
        return adapter

    async def close_retired(self) -> None:
        """Close the adapters of servers edited since; their idle connections would otherwise stay open."""
        retired, self._retired = self._retired, []
        for adapter in retired:
            await close_adapter(adapter)

    async def aclose(self) -> None:
        self._retired += [adapter for _, adapter in self._open.values()]
        self._open.clear()
        await self.close_retired()


async def close_adapter(adapter: EmailServiceProvider) -> None:
    close = getattr(adapter, "aclose", None)
    if close is not None:
        await close()


def server_failed(result: SendResult) -> bool:
    """The server itself failed (no connection, no answer), as opposed to refusing this one recipient.

    An address the adapter could not even put in an envelope has no code either, but it is permanent:
    it says nothing about the server, so it never counts towards the server's circuit breaker.
    """
    return result.code is None and result.transient


def failover_order(chosen: Candidate | None, candidates: list[Candidate]) -> list[Candidate]:
    """The routed server first, then the rest of the usable pool by weight."""
    usable = sorted((c for c in candidates if not c.skipped and c.weight > 0), key=lambda c: -c.weight)
    if chosen is None:
        return usable
    return [chosen, *[c for c in usable if c.server_id != chosen.server_id]]


async def send_buckets(redis: Redis, server: dict, group: dict | None, plans: Mapping[int, dict]) -> list[Bucket]:
    buckets, _ = quota_buckets(server, plans)
    plan_limit = get_settings().workers.workspace_per_minute
    if plan_limit:
        buckets.append(workspace_bucket(server["workspace_id"], plan_limit))
    if group and group["hourly_limit"]:
        rate = await current_rate(redis, server["id"], group["name"], AimdPolicy(ceiling=group["hourly_limit"]))
        buckets.append(domain_group_bucket(server["id"], group["name"], rate))
    return buckets


async def sent_by_server(workspace_id: int) -> dict[int, dict[float, int]]:
    """Messages each server of the workspace sent within the last hour, day and month, by period in seconds."""
    rows = await fetch_positional(_SENT_BY_SERVER, [workspace_id])
    return {row["server_id"]: {HOUR: row["hour"], DAY: row["day"], MONTH: row["month"]} for row in rows}


async def restore_quotas(redis: Redis, workspace_id: int, context: RoutingContext) -> None:
    """After Redis lost the buckets, set each server's hour, day (warm-up cap included) and month buckets
    from what the deliveries table says it sent, before any of them gives out a token."""
    if not await needs_restore(redis, workspace_id):
        return
    sent = await sent_by_server(workspace_id)
    used = []
    for server in context.servers.values():
        buckets, _ = quota_buckets(server, context.plans)
        used += period_usage(buckets, sent.get(server["id"], {}))
    await restore(redis, workspace_id, used)


async def send_routed(redis: Redis, workspace_id: int, messages: list[OutgoingMessage], adapters: Adapters,
                      list_id: int | None = None, tag: str = "") -> list[Outcome]:
    context = await routing_context(workspace_id)
    await restore_quotas(redis, workspace_id, context)
    servers = context.servers
    by_name = {group["name"]: group for group in context.groups}
    outcomes = []
    for message in messages:
        outcome = Outcome(message)
        planned = await route(redis, workspace_id, message.recipients[0], list_id, tag, context)
        group = by_name.get(planned.group) if planned.group != OTHERS else None
        waits = []
        for candidate in failover_order(planned.chosen, planned.candidates):
            server = servers[candidate.server_id]
            grant = await acquire(redis, await send_buckets(redis, server, group, context.plans))
            if not grant.granted:
                waits.append(grant.retry_after)
                outcome.attempts.append(f"{server['name']}: throttled by {grant.limited_by}")
                continue
            [result] = await adapters.for_server(server).send([message])
            outcome.server, outcome.result = server["name"], result
            if result.accepted:
                await record_success(redis, server["id"], BREAKER)
                await count_outcomes(redis, server["id"], planned.group, Outcomes(accepted=1), group)
                break
            outcome.attempts.append(f"{server['name']}: {result.response}")
            if server_failed(result):
                await record_failure(redis, server["id"], BREAKER, result.response[:200])
            elif result.code is not None:
                kind = Outcomes(deferred=1) if result.transient else Outcomes(bounced=1)
                await count_outcomes(redis, server["id"], planned.group, kind, group)
            if not result.transient:
                break
        if not outcome.accepted and (outcome.result is None or outcome.result.transient):
            outcome.deferred_for = min(waits, default=DEFAULT_DEFER_SECONDS) or DEFAULT_DEFER_SECONDS
        outcomes.append(outcome)
    return outcomes


async def count_outcomes(redis: Redis, server_id: int, group_name: str, outcomes: Outcomes,
                         group: dict | None) -> None:
    """Record the outcome and let AIMD move the (server, group) rate; it acts at most once per cool-down."""
    await record_outcomes(redis, server_id, group_name, outcomes, _policy(group))
    await adjust_rate(redis, server_id, group_name, _policy(group))


def _policy(group: dict | None) -> AimdPolicy:
    return AimdPolicy(ceiling=float(group["hourly_limit"]) if group and group["hourly_limit"] else 1000.0)


async def send_now(redis: Redis, workspace_id: int, messages: list[OutgoingMessage]) -> list[bool]:
    """Send through the workspace's delivery servers, or into the development inbox when it has none."""
    if not await DeliveryServer.exists().where(owned_by(DeliveryServer, workspace_id)):
        return [result.accepted for result in await default_sender().send(messages)]
    adapters = Adapters()
    try:
        return [outcome.accepted for outcome in await send_routed(redis, workspace_id, messages, adapters)]
    finally:
        await adapters.aclose()
