"""Sending a whole batch at once: routed once per domain group, tokens taken in one round trip, pooled connections.

`send_routed` asks routing and the token buckets once per message (10 to 12
Redis round trips each) and sends one message at a time. Here a batch is
routed once per (domain group, list), each message takes its server and
domain-group tokens in one `acquire_many` for the whole batch, and each server
gets its messages over as many concurrent connections as its adapter pools.
Messages move down their pool in rounds: a refused token or an unreachable
server passes a message to the next server of its pool; when none is left it
is deferred for the shortest wait it was given, never waited on here.

Every acceptance is reported through `on_accepted` the moment its server
answers, before the rest of the batch is done, so a caller can record it
where a crash cannot lose it. Tokens of messages that were not sent go back.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from app.esp.base import EmailServiceProvider, OutgoingMessage, SendResult
from app.esp.delivery_tags import delivery_id_in
from app.logs import get_logger
from app.services.bounces.classifier import classify_reply
from app.services.bounces.model import BLOCK, Outcome
from app.services.bounces.return_paths import verp_address
from app.services.rendering import RenderError
from app.services.routing import BREAKER, OTHERS, Candidate, RoutingContext, group_of, route, routing_context
from app.services.sending import (
    DEFAULT_DEFER_SECONDS,
    Adapters,
    count_outcomes,
    failover_order,
    restore_quotas,
    send_buckets,
    server_failed,
)
from app.services.system_mail import default_sender
from app.services.throttling import Bucket, Outcomes, acquire_many, record_failure, record_success
from app.services.throttling.refunds import give_back
from app.settings import get_settings

log = get_logger("ignite.sending")

# Adapters without a pool size of their own get this many messages in flight at once.
DEFAULT_LANES = 8
# Answers that mean "this server wants less from us now", not "this message is wrong".
_SLOW_DOWN_CODES = frozenset({421, 429, 454})
_SLOW_DOWN_WORDS = re.compile(r"rate|throttl|too many|slow down|try again later", re.IGNORECASE)
_QUEUE_ID = re.compile(r"queued as ([A-Za-z0-9._-]+)")


class Verdict(StrEnum):
    SENT = "sent"
    # The server refused this message for good (5xx), or the address cannot be sent to at all.
    FAILED = "failed"
    # The server answered about this message with a 4xx: worth another attempt later.
    RETRY = "retry"
    # Not attempted, or not the message's fault (throttled, no server reachable): try again after `wait`.
    DEFERRED = "deferred"
    # Not attempted and never will be: the recipient opted out after the batch was claimed (`skip`).
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class BatchItem:
    """One message to send. It is rendered by `build` only when a connection is ready for it, so a batch
    holds a few messages in memory at a time rather than all of them."""

    key: int
    recipient: str
    message_id: str
    build: Callable[[], OutgoingMessage]
    list_id: int | None = None


@dataclass
class BatchOutcome:
    item: BatchItem
    verdict: Verdict = Verdict.DEFERRED
    server_id: int | None = None
    group: str = ""
    answer: str = ""
    provider_id: str = ""
    wait: float = 0.0
    tried: list[str] = field(default_factory=list)
    # What a server's permanent refusal says: a hard bounce (the address), a block (our reputation or
    # content), ... The campaign records it like an emailed bounce report.
    refusal: Outcome | None = None


# Told of each acceptance as it happens: the item, its server (None for the development inbox), the answer.
Accepted = Callable[[BatchItem, int | None, SendResult], Awaitable[None]]
Skip = Callable[[BatchItem], bool]
# What `_Rounds._send` answers for a message `skip` cancelled: nothing was sent, its token goes back.
OPTED_OUT = SendResult("", accepted=False, response="not sent: the recipient opted out")


@dataclass
class _Plan:
    """One message's way through its pool: servers in failover order, and what it met so far."""

    outcome: BatchOutcome
    servers: list[int]
    group: dict | None
    position: int = 0
    waits: list[float] = field(default_factory=list)

    def next_server(self) -> int | None:
        return self.servers[self.position] if self.position < len(self.servers) else None

    def move_on(self, note: str, wait: float) -> None:
        self.outcome.tried.append(note)
        self.waits.append(wait)
        self.position += 1


def stable_pick(candidates: Sequence[Candidate], email: str) -> Candidate | None:
    """Weighted choice, stable per address: the same pick routing's preview shows for it."""
    usable = [c for c in candidates if not c.skipped and c.weight > 0]
    if not usable:
        return None
    point = int.from_bytes(hashlib.sha256(email.encode()).digest()[:8], "big") / 2**64 * sum(c.weight for c in usable)
    for candidate in usable:
        point -= candidate.weight
        if point < 0:
            return candidate
    return usable[-1]


def slowed_down(result: SendResult) -> bool:
    """A transient answer about our sending rate rather than this recipient (SES 454, Gmail 421, HTTP 429)."""
    return result.transient and result.code is not None and (
        result.code in _SLOW_DOWN_CODES or bool(_SLOW_DOWN_WORDS.search(result.response)))


def provider_id(message_id: str, result: SendResult) -> str:
    """The provider's own id for the message: an API's message id, or the queue id of an SMTP answer."""
    if result.message_id and result.message_id != message_id:
        return result.message_id[:255]
    found = _QUEUE_ID.search(result.response)
    return found.group(1)[:255] if found else ""


async def _plans(redis: Redis, workspace_id: int, items: Sequence[BatchItem], tag: str,
                 context: RoutingContext) -> list[_Plan]:
    """Route once per (domain group, list) and give each message its stable first server and the failover."""
    routes = {}
    plans = []
    for item in items:
        email = item.recipient
        group = group_of(email.rpartition("@")[2], context.groups)
        key = (group["name"] if group else OTHERS, item.list_id)
        if key not in routes:
            routes[key] = await route(redis, workspace_id, email, item.list_id, tag, context)
        planned = routes[key]
        order = failover_order(stable_pick(planned.candidates, email), planned.candidates)
        plans.append(_Plan(BatchOutcome(item, group=planned.group), [c.server_id for c in order], group))
        if not order:
            plans[-1].outcome.tried.append(planned.reason)
    return plans


class _Rounds:
    """A batch's rounds: each takes tokens for the messages still open, sends them and sorts the answers;
    what the breaker and AIMD should hear is gathered over all of them and recorded once."""

    def __init__(self, redis: Redis, context: RoutingContext, adapters: Adapters, on_accepted: Accepted | None,
                 defer_seconds: float, skip: Skip | None = None) -> None:
        self.redis, self.context, self.adapters = redis, context, adapters
        self.on_accepted, self.defer_seconds, self.skip = on_accepted, defer_seconds, skip
        self.buckets: dict[tuple[int, str], list[Bucket]] = {}
        self.counts: dict[tuple[int, str], Counter[str]] = defaultdict(Counter)
        self.groups: dict[tuple[int, str], dict | None] = {}
        self.accepted_servers: set[int] = set()

    async def _buckets(self, server_id: int, plan: _Plan) -> list[Bucket]:
        key = (server_id, plan.outcome.group)
        if key not in self.buckets:
            server = self.context.servers[server_id]
            self.buckets[key] = await send_buckets(self.redis, server, plan.group, self.context.plans)
            self.groups[key] = plan.group
        return self.buckets[key]

    async def run(self, plans: list[_Plan]) -> None:
        wanted = [(plan, server_id, await self._buckets(server_id, plan))
                  for plan in plans if (server_id := plan.next_server()) is not None]
        grants = await acquire_many(self.redis, [(buckets, 1) for _, _, buckets in wanted])
        by_server: dict[int, list[tuple[_Plan, list[Bucket]]]] = defaultdict(list)
        for (plan, server_id, buckets), grant in zip(wanted, grants, strict=True):
            if grant.granted:
                by_server[server_id].append((plan, buckets))
            else:
                name = self.context.servers[server_id]["name"]
                plan.move_on(f"{name}: throttled by {grant.limited_by}", grant.retry_after)
        await asyncio.gather(*(self._send(server_id, entries) for server_id, entries in by_server.items()))

    async def _send(self, server_id: int, entries: list[tuple[_Plan, list[Bucket]]]) -> None:
        server = self.context.servers[server_id]
        adapter = self.adapters.for_server(server)
        lanes = asyncio.Semaphore(_lanes(adapter))
        broken: list[str] = []

        async def one(plan: _Plan) -> SendResult | None:
            async with lanes:
                if broken:
                    return None
                # Asked as late as can be: the moment before the message is rendered and handed over.
                if self.skip is not None and self.skip(plan.outcome.item):
                    return OPTED_OUT
                result = await _deliver(adapter, plan.outcome.item, server)
                if server_failed(result):
                    broken.append(result.response)
                elif result.accepted and self.on_accepted is not None:
                    await self.on_accepted(plan.outcome.item, server_id, result)
                return result

        results = await asyncio.gather(*(one(plan) for plan, _ in entries))
        unsent = []
        for (plan, buckets), result in zip(entries, results, strict=True):
            if result is None or result.code is None or slowed_down(result):
                unsent.append((buckets, 1))
            if result is OPTED_OUT:
                plan.outcome.verdict, plan.position = Verdict.CANCELLED, len(plan.servers)
                continue
            self._sorted(plan, server, result)
        if broken:
            await _best_effort("breaker", record_failure(self.redis, server_id, BREAKER, broken[0][:200]))
        await _best_effort("refund", give_back(self.redis, unsent))

    def _sorted(self, plan: _Plan, server: dict, result: SendResult | None) -> None:
        outcome, name = plan.outcome, server["name"]
        count_key = (server["id"], outcome.group)
        if result is None:
            plan.move_on(f"{name}: not tried, the server could not be reached", self.defer_seconds)
            return
        if server_failed(result) or slowed_down(result):
            if slowed_down(result):
                self.counts[count_key]["deferred"] += 1
            plan.move_on(f"{name}: {result.response}", self.defer_seconds)
            return
        outcome.server_id, outcome.answer = server["id"], result.response
        plan.position = len(plan.servers)
        if result.accepted:
            outcome.verdict, outcome.provider_id = Verdict.SENT, provider_id(outcome.item.message_id, result)
            self.counts[count_key]["accepted"] += 1
            self.accepted_servers.add(server["id"])
        elif result.transient:
            outcome.verdict = Verdict.RETRY
            self.counts[count_key]["deferred"] += 1
        else:
            outcome.verdict = Verdict.FAILED
            if result.code is not None:
                outcome.refusal = classify_reply(result.code, result.response)
                # Only a block says something about this server's rate; an unknown user says nothing about it.
                if outcome.refusal.category == BLOCK:
                    self.counts[count_key]["bounced"] += 1

    async def record(self) -> None:
        """Breaker successes and AIMD outcomes once per server and (server, group), not once per message."""
        for server_id in self.accepted_servers:
            await record_success(self.redis, server_id, BREAKER)
        for (server_id, group_name), counted in self.counts.items():
            await count_outcomes(self.redis, server_id, group_name, Outcomes(**counted),
                                 self.groups.get((server_id, group_name)))


async def _best_effort(what: str, work: Coroutine[Any, Any, None]) -> None:
    """Bookkeeping once messages went out: Redis failing (restarting) here must not keep their outcomes
    from reaching PostgreSQL, or the batch would be sent again when its lease runs out."""
    try:
        await work
    except RedisError:
        log.warning("sending_bookkeeping_failed", what=what, exc_info=True)


def _lanes(adapter: EmailServiceProvider) -> int:
    config = getattr(adapter, "config", None)
    return int(getattr(config, "pool_size", 0) or getattr(config, "max_concurrency", 0) or DEFAULT_LANES)


def _enveloped(message: OutgoingMessage, server: dict) -> OutgoingMessage:
    """Bounces go to the server's bounce address when it has one; an SMTP server's carry the delivery's
    signed token in it (VERP: `returns+<token>@domain`), so each bounce names its delivery. SES, SparkPost
    and Mailgun use return paths of their own, and their events name the delivery by its tag."""
    bounce = server.get("bounce_address")
    if not bounce:
        return message
    delivery_id = delivery_id_in(message.message_id)
    if server["kind"] == "smtp" and delivery_id is not None:
        local, _, domain = bounce.rpartition("@")
        try:
            return replace(message, mail_from=verp_address(get_settings(), message.workspace_id, delivery_id,
                                                           domain, local=local))
        except ValueError:  # a local part too long to carry the token: the plain bounce address
            pass
    return replace(message, mail_from=bounce)


async def _deliver(adapter: EmailServiceProvider, item: BatchItem, server: dict) -> SendResult:
    try:
        # Rendered for this attempt and dropped after it: a batch never holds all its messages at once.
        message = _enveloped(item.build(), server)
    except Exception as exc:  # whatever a template does with odd data fails this message only, for good
        return SendResult(item.message_id, accepted=False, response=f"could not render: {exc}")
    try:
        [result] = await adapter.send([message])
    except Exception as exc:  # an adapter bug must cost this server its turn, not the whole batch
        log.exception("adapter_failed", message_id=item.message_id)
        return SendResult(item.message_id, accepted=False, transient=True, response=f"{type(exc).__name__}: {exc}")
    return result


async def _development_inbox(items: Sequence[BatchItem], on_accepted: Accepted | None,
                             skip: Skip | None) -> list[BatchOutcome]:
    """A workspace without delivery servers sends into the development inbox, as `send_now` does."""
    inbox = default_sender()
    outcomes = []
    for item in items:
        if skip is not None and skip(item):
            outcomes.append(BatchOutcome(item, Verdict.CANCELLED))
            continue
        try:
            [result] = await inbox.send([item.build()])
        except RenderError as exc:
            outcomes.append(BatchOutcome(item, Verdict.FAILED, answer=f"could not render: {exc}"))
            continue
        if on_accepted is not None:
            await on_accepted(item, None, result)
        outcomes.append(BatchOutcome(item, Verdict.SENT, answer=result.response))
    return outcomes


async def send_batch(redis: Redis, workspace_id: int, items: Sequence[BatchItem], adapters: Adapters, *,
                     tag: str = "", on_accepted: Accepted | None = None, context: RoutingContext | None = None,
                     defer_seconds: float = DEFAULT_DEFER_SECONDS, skip: Skip | None = None) -> list[BatchOutcome]:
    """Send every item through its routed server (failing over down its pool); one outcome per item, in order.

    `skip` is asked just before each message goes: True cancels it (the recipient opted out meanwhile)."""
    context = context or await routing_context(workspace_id)
    if not context.servers:
        return await _development_inbox(items, on_accepted, skip)
    await restore_quotas(redis, workspace_id, context)
    plans = await _plans(redis, workspace_id, items, tag, context)
    rounds = _Rounds(redis, context, adapters, on_accepted, defer_seconds, skip)
    while open_plans := [plan for plan in plans if plan.next_server() is not None]:
        try:
            await rounds.run(open_plans)
        except RedisError as exc:
            # No token could be taken for this round: its messages were not sent, and wait like throttled ones.
            log.warning("sending_round_failed", error=str(exc))
            for plan in open_plans:
                plan.move_on(f"not sent: Redis failed ({exc})", defer_seconds)
                plan.position = len(plan.servers)
    await _best_effort("outcomes", rounds.record())
    await adapters.close_retired()
    for plan in plans:
        if plan.outcome.verdict is Verdict.DEFERRED:
            plan.outcome.wait = min(plan.waits, default=defer_seconds) or defer_seconds
    return [plan.outcome for plan in plans]
