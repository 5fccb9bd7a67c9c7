"""A campaign's figures while it sends: Redis hashes bumped per batch, flushed to its row, made exact at the end.

Pages read the row and never count deliveries. The hash holds running totals
(`sent`, `failed`, `skipped`, `deferred`, and `server:<id>:sent` /
`group:<name>:sent` style breakdowns), so a flush is idempotent; it never
moves a figure backwards, so a Redis that lost its data cannot shrink what a
page shows. When a campaign ends its figures are counted once from the
deliveries themselves, which also repairs anything a crash left behind.

The same prefix holds each campaign's other working state in Redis: the
acceptances recorded the moment a server answered, the time of the last claim
(so the reaper can tell a stalled campaign from a busy one), and the
materialiser's lock.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping

from redis.asyncio import Redis

from app.db.campaigns import Campaign
from app.services import statements
from app.services.accounts import now
from app.services.tenancy import owned_by

TOTALS = ("sent", "failed", "skipped", "deferred")
# Breakdowns by server and domain group, per final status worth showing.
BROKEN_DOWN = ("sent", "failed")
KEEP_SECONDS = 30 * 86400
FLUSH_EVERY_SECONDS = 2


def key(campaign_id: int, part: str) -> str:
    return f"ignite:campaign:{campaign_id}:{part}"


def text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value


def tallies(status: str, server_id: int | None, group: str) -> dict[str, int]:
    """The counter fields one delivery's final status adds to."""
    name = "skipped" if status == "cancelled" else status
    fields = {name: 1}
    if name in BROKEN_DOWN:
        if server_id is not None:
            fields[f"server:{server_id}:{name}"] = 1
        if group:
            fields[f"group:{group}:{name}"] = 1
    return fields


async def bump(redis: Redis, campaign_id: int, counts: Mapping[str, int]) -> None:
    if not counts:
        return
    name = key(campaign_id, "counters")
    async with redis.pipeline(transaction=False) as pipe:
        for field, amount in counts.items():
            pipe.hincrby(name, field, amount)
        pipe.expire(name, KEEP_SECONDS)
        await pipe.execute()


def breakdown(fields: Mapping[str, int]) -> dict[str, dict[str, dict[str, int]]]:
    """{"servers": {"3": {"sent": 10}}, "groups": {"Gmail": {"sent": 4}}} from the hash's prefixed fields."""
    shaped: dict[str, dict[str, dict[str, int]]] = {"servers": {}, "groups": {}}
    for field, value in fields.items():
        kind, _, rest = field.partition(":")
        if kind not in ("server", "group"):
            continue
        name, _, status = rest.rpartition(":")
        shaped[f"{kind}s"].setdefault(name, {})[status] = value
    return shaped


async def flush(redis: Redis, workspace_id: int, campaign_id: int) -> None:
    """Copy the running totals to the campaign's row, never lowering a figure already there."""
    raw = await redis.hgetall(key(campaign_id, "counters"))
    if not raw:
        return
    fields = {text(name): int(value) for name, value in raw.items()}
    row = await Campaign.select(Campaign.sent_count, Campaign.failed_count, Campaign.skipped_count,
                                Campaign.deferred_count, Campaign.breakdown).where(
        owned_by(Campaign, workspace_id), Campaign.id == campaign_id).output(load_json=True).first()
    if row is None:
        return
    merged = breakdown(fields)
    for kind, names in (row["breakdown"] or {}).items():
        for name, figures in names.items():
            target = merged.setdefault(kind, {}).setdefault(name, {})
            for status, value in figures.items():
                target[status] = max(value, target.get(status, 0))
    await Campaign.update({
        **{f"{name}_count": max(fields.get(name, 0), row[f"{name}_count"]) for name in TOTALS},
        Campaign.breakdown: merged, Campaign.counted_at: now(),
    }).where(owned_by(Campaign, workspace_id), Campaign.id == campaign_id)


async def flush_if_due(redis: Redis, workspace_id: int, campaign_id: int) -> None:
    """At most one flush per campaign every few seconds, whichever worker gets there first."""
    if await redis.set(key(campaign_id, "flushed"), "1", nx=True, ex=FLUSH_EVERY_SECONDS):
        await flush(redis, workspace_id, campaign_id)


async def reconcile(redis: Redis, workspace_id: int, campaign_id: int) -> None:
    """Count the deliveries once (the campaign has ended) and make the row and the hash exact."""
    rows = await statements.run("campaigns.status-counts", workspace_id, campaign_id)
    exact: Counter[str] = Counter()
    for row in rows:
        for field in tallies(row["status"], row["server_id"], row["domain_group"]):
            exact[field] += row["n"]
    fields = {name: exact.get(name, 0) for name in ("sent", "failed", "skipped")}
    deferred = await redis.hget(key(campaign_id, "counters"), "deferred")
    await Campaign.update({
        **{f"{name}_count": value for name, value in fields.items()},
        Campaign.recipient_count: sum(row["n"] for row in rows),
        Campaign.breakdown: breakdown(exact), Campaign.counted_at: now(),
    }).where(owned_by(Campaign, workspace_id), Campaign.id == campaign_id)
    async with redis.pipeline(transaction=True) as pipe:
        pipe.delete(key(campaign_id, "counters"))
        pipe.hset(key(campaign_id, "counters"), mapping={**exact, "deferred": int(deferred or 0)})
        pipe.expire(key(campaign_id, "counters"), KEEP_SECONDS)
        pipe.delete(key(campaign_id, "accepted"), key(campaign_id, "progress"))
        await pipe.execute()


def accepted_entry(server_id: int | None, provider_id: str, answer: str) -> str:
    return json.dumps([server_id, provider_id, answer[:500]])


def read_accepted(raw: str | bytes) -> tuple[int | None, str, str]:
    server_id, provider_id, answer = json.loads(text(raw))
    return server_id, str(provider_id), str(answer)
