"""Routing: which delivery server each recipient goes through today, and why.

Rules match a recipient by domain group, list or campaign tag and name a pool
of servers with weights; without a match the default pool is every server.
A server is skipped when paused or disabled, paused for the recipient's
domain group (a complaint rate above the workspace's threshold, see
`throttling.pauses`), circuit-open, out of quota, or at today's warm-up
cap; weights shrink with the adaptive rate of the
(server, domain group) pair, so traffic moves away from servers that defer.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from redis.asyncio import Redis

from app.db.audience import MailingList
from app.db.delivery import DeliveryServer, DomainGroup, RoutingRule
from app.db.segments import Segment
from app.services import segments
from app.services.form_input import chosen_id, owned_id, whole_number
from app.services.forms import FormError
from app.services.suppression.mailable import why_not_mailable
from app.services.tenancy import checked_workspace_id, owned_by
from app.services.throttling import (
    DEFAULT_DOMAIN_GROUP_PER_HOUR,
    AimdPolicy,
    BreakerPolicy,
    Bucket,
    breaker_status,
    current_rate,
    server_buckets,
    tokens_left,
)
from app.services.throttling.pauses import RoutePause, route_pauses
from app.services.warmup_plans import cap_today, plans_by_id

OTHERS = "Others"
# (name, key in DEFAULT_DOMAIN_GROUP_PER_HOUR, domains)
DEFAULT_GROUPS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("Gmail", "gmail", ("gmail.com", "googlemail.com")),
    ("Yahoo/AOL", "yahoo", ("yahoo.com", "yahoo.co.uk", "yahoo.fr", "ymail.com", "rocketmail.com", "aol.com",
                            "aim.com")),
    ("Microsoft", "microsoft", ("outlook.com", "hotmail.com", "hotmail.co.uk", "live.com", "msn.com")),
    ("Apple", "apple", ("icloud.com", "me.com", "mac.com")),
)
SENDABLE = ("active", "warmup")
BREAKER = BreakerPolicy()
NAME_LENGTH = 120
TAG_LENGTH = 64
LARGEST_LIMIT = 10**9
PREVIEW_LIMIT = 50


class RoutingError(FormError):
    """Form values of this area that cannot be saved."""


@dataclass(frozen=True)
class Candidate:
    server_id: int
    name: str
    weight: float
    skipped: str = ""


@dataclass(frozen=True)
class Route:
    email: str
    group: str
    rule: str
    chosen: Candidate | None
    candidates: list[Candidate] = field(default_factory=list)

    @property
    def reason(self) -> str:
        if self.chosen is None:
            return "no server can take it now: " + "; ".join(f"{c.name}: {c.skipped}" for c in self.candidates)
        usable = [c for c in self.candidates if not c.skipped]
        share = self.chosen.weight / sum(c.weight for c in usable) if usable else 1
        return f"{self.rule}; picked by weight ({share:.0%} share of traffic)"


async def domain_groups(workspace_id: int) -> list[dict]:
    """The workspace's groups, created from the usual mailbox providers on first use.

    Several workers may ask first at the same moment: a group another caller created meanwhile is kept
    (unique on workspace and name), so none of them fails."""
    rows = await DomainGroup.select().where(owned_by(DomainGroup, workspace_id)).order_by(DomainGroup.position)
    if rows:
        return rows
    await DomainGroup.insert(*[
        DomainGroup(workspace_id=checked_workspace_id(workspace_id), name=name, domains=list(domains),
                    hourly_limit=DEFAULT_DOMAIN_GROUP_PER_HOUR[key], position=index)
        for index, (name, key, domains) in enumerate(DEFAULT_GROUPS)
    ]).on_conflict(target=(DomainGroup.workspace_id, DomainGroup.name), action="DO NOTHING")
    return await DomainGroup.select().where(owned_by(DomainGroup, workspace_id)).order_by(DomainGroup.position)


async def update_group(workspace_id: int, group_id: int, raw: Mapping[str, Any]) -> None:
    domains = sorted({d.strip().lower() for d in str(raw.get("domains", "")).replace(",", " ").split() if d.strip()})
    limit = whole_number(raw.get("hourly_limit"), "hourly_limit", RoutingError,
                         "Enter a whole number per hour (0 means no limit).", high=LARGEST_LIMIT, default=0)
    rows = await DomainGroup.update({DomainGroup.domains: domains, DomainGroup.hourly_limit: limit}).where(
        owned_by(DomainGroup, workspace_id), DomainGroup.id == group_id
    ).returning(DomainGroup.id)
    if not rows:
        raise LookupError("group")


def group_of(domain: str, groups: list[dict]) -> dict | None:
    domain = domain.lower()
    return next((group for group in groups if domain in group["domains"]), None)


async def rules(workspace_id: int) -> list[dict]:
    return await RoutingRule.select().where(owned_by(RoutingRule, workspace_id)).order_by(
        RoutingRule.position
    ).order_by(RoutingRule.id).output(load_json=True)


def _pool(raw: Mapping[str, Any], server_ids: list[int], errors: dict[str, str]) -> list[dict]:
    """The servers given a weight above 0, with their weights; ids come from the workspace, not the form."""
    pool = []
    for server_id in server_ids:
        name = f"weight_{server_id}"
        try:
            weight = whole_number(raw.get(name), name, RoutingError, "Weights are 0 to 1000.", high=1000, default=0)
        except RoutingError as exc:
            errors.update(exc.errors)
            continue
        if weight:
            pool.append({"server_id": server_id, "weight": weight})
    return pool


async def save_rule(workspace_id: int, raw: Mapping[str, Any]) -> dict:
    """A new rule from the form; its pool names servers of this workspace with weights, and the domain
    group and list it matches must be this workspace's (LookupError otherwise)."""
    name = str(raw.get("name", "")).strip()
    tag = str(raw.get("campaign_tag", "")).strip()
    errors: dict[str, str] = {}
    if not name or len(name) > NAME_LENGTH:
        errors["name"] = f"Give the rule a name of up to {NAME_LENGTH} characters."
    if len(tag) > TAG_LENGTH:
        errors["campaign_tag"] = f"Campaign tags are up to {TAG_LENGTH} characters."
    server_ids = [row["id"] for row in await DeliveryServer.select(DeliveryServer.id).where(
        owned_by(DeliveryServer, workspace_id)).order_by(DeliveryServer.id)]
    pool = _pool(raw, server_ids, errors)
    if not pool and not errors:
        errors["pool"] = "Give at least one server a weight above 0."
    picked: dict[str, int | None] = {}
    for field_name, message in (("domain_group_id", "Choose a domain group."), ("list_id", "Choose a list.")):
        try:
            picked[field_name] = chosen_id(raw.get(field_name), field_name, RoutingError, message)
        except RoutingError as exc:
            errors.update(exc.errors)
    if errors:
        raise RoutingError(errors)
    group_id = await owned_id(DomainGroup, workspace_id, picked["domain_group_id"])
    list_id = await owned_id(MailingList, workspace_id, picked["list_id"])
    last = await RoutingRule.select(RoutingRule.position).where(owned_by(RoutingRule, workspace_id)).order_by(
        RoutingRule.position, ascending=False).first()
    rows = await RoutingRule.insert(RoutingRule(
        workspace_id=checked_workspace_id(workspace_id), name=name, domain_group_id=group_id, list_id=list_id,
        campaign_tag=tag, pool=pool, position=(last["position"] + 1) if last else 0,
    )).returning(*RoutingRule.all_columns())
    return rows[0]


async def delete_rule(workspace_id: int, rule_id: int) -> None:
    rows = await RoutingRule.delete().where(owned_by(RoutingRule, workspace_id), RoutingRule.id == rule_id).returning(
        RoutingRule.id)
    if not rows:
        raise LookupError("rule")


def matching_rule(rule_rows: list[dict], group: dict | None, list_id: int | None, tag: str) -> dict | None:
    for rule in rule_rows:
        if not rule["enabled"]:
            continue
        if rule["domain_group_id"] and (group is None or rule["domain_group_id"] != group["id"]):
            continue
        if rule["list_id"] and rule["list_id"] != list_id:
            continue
        if rule["campaign_tag"] and rule["campaign_tag"] != tag:
            continue
        return rule
    return None


@dataclass(frozen=True)
class RoutingContext:
    """Everything routing reads from the database, loaded once for a whole batch of recipients."""

    groups: list[dict]
    rules: list[dict]
    servers: dict[int, dict]
    plans: dict[int, dict]
    # The (server id, domain group name) pairs paused by complaint rates, in force when the context was read.
    pauses: Mapping[tuple[int, str], RoutePause] = field(default_factory=dict)


@dataclass(frozen=True)
class DailyCap:
    """How many messages a server may send today: the smaller of its own daily quota and today's warm-up cap."""

    limit: int
    # The warm-up schedule day when the warm-up cap is the smaller one, else None.
    warmup_day: int | None = None


def daily_cap(server: dict, plans: Mapping[int, dict]) -> DailyCap | None:
    """The server's effective cap for today; None when neither its quota nor a warm-up plan limits the day."""
    own, warmup = server["daily_quota"] or None, cap_today(server, plans)
    if warmup is not None and (own is None or warmup <= own):
        return DailyCap(warmup, max(server["warmup_day"], 1))
    return DailyCap(own) if own is not None else None


def quota_buckets(server: dict, plans: Mapping[int, dict]) -> tuple[list[Bucket], int | None]:
    """The server's quota buckets (the day bucket holds the effective daily cap), and today's warm-up cap."""
    cap = daily_cap(server, plans)
    buckets = server_buckets(server["id"], per_second=server["per_second"] or None,
                             per_hour=server["hourly_quota"] or None, per_day=cap.limit if cap else None,
                             per_month=server["monthly_quota"] or None)
    return buckets, cap_today(server, plans)


async def _candidate(redis: Redis, server: dict, weight: float, group: dict | None,
                     context: RoutingContext) -> Candidate:
    name, plans = server["name"], context.plans
    if server["status"] not in SENDABLE:
        return Candidate(server["id"], name, 0, f"{server['status']} ({server['status_reason'] or 'no reason given'})")
    paused = context.pauses.get((server["id"], group["name"] if group else OTHERS))
    if paused is not None:
        return Candidate(server["id"], name, 0, paused.why)
    breaker = await breaker_status(redis, server["id"], BREAKER)
    if not breaker.allowed:
        return Candidate(server["id"], name, 0, f"circuit {breaker.state.value}: {breaker.reason}")
    buckets, _ = quota_buckets(server, plans)
    if buckets:
        left = await tokens_left(redis, buckets)
        empty = [key.rsplit(":", 1)[1] for key, value in left.items() if value < 1]
        if empty:
            cap = daily_cap(server, plans)
            warmup_bound = cap is not None and cap.warmup_day is not None
            why = "warm-up cap reached today" if "day" in empty and warmup_bound else f"{empty[0]} quota used up"
            return Candidate(server["id"], name, 0, why)
    if group and group["hourly_limit"]:
        rate = await current_rate(redis, server["id"], group["name"], AimdPolicy(ceiling=group["hourly_limit"]))
        weight *= rate / group["hourly_limit"]
    return Candidate(server["id"], name, weight)


def _pick(candidates: list[Candidate], email: str) -> Candidate | None:
    """Weighted choice, stable per address so a preview shows what a send would do."""
    usable = [c for c in candidates if not c.skipped and c.weight > 0]
    if not usable:
        return None
    total = sum(c.weight for c in usable)
    point = int.from_bytes(hashlib.sha256(email.encode()).digest()[:8], "big") / 2**64 * total
    for candidate in usable:
        point -= candidate.weight
        if point < 0:
            return candidate
    return usable[-1]


async def route(redis: Redis, workspace_id: int, email: str, list_id: int | None = None, tag: str = "",
                context: RoutingContext | None = None) -> Route:
    """Where a message to `email` goes now; pass `context` when routing many recipients."""
    context = context or await routing_context(workspace_id)
    servers = context.servers
    group = group_of(email.rpartition("@")[2], context.groups)
    rule = matching_rule(context.rules, group, list_id, tag)
    if rule:
        pool = [(servers[item["server_id"]], item["weight"]) for item in rule["pool"] if item["server_id"] in servers]
        label = f"rule “{rule['name']}”"
    else:
        pool = [(server, server["weight"]) for server in servers.values()]
        label = "default pool (no rule matched)"
    candidates = [await _candidate(redis, server, weight, group, context) for server, weight in pool]
    return Route(email=email, group=group["name"] if group else OTHERS, rule=label, chosen=_pick(candidates, email),
                 candidates=candidates)


async def routing_context(workspace_id: int) -> RoutingContext:
    servers = await DeliveryServer.select().where(owned_by(DeliveryServer, workspace_id)).output(load_json=True)
    return RoutingContext(groups=await domain_groups(workspace_id), rules=await rules(workspace_id),
                          servers={s["id"]: s for s in servers}, plans=await plans_by_id(workspace_id),
                          pauses=await route_pauses(workspace_id))


@dataclass(frozen=True)
class PreviewRow:
    """One recipient of a routing preview: where it would go now, and every reason a send would leave it out."""

    route: Route
    not_mailable: list[str] = field(default_factory=list)


def preview_addresses(text: str) -> list[str]:
    """The addresses typed into the preview (separated by spaces, commas or semicolons), first ones first."""
    found = [a.strip().lower() for a in re.split(r"[\s,;]+", text) if "@" in a]
    return list(dict.fromkeys(found))[:PREVIEW_LIMIT]


async def preview(redis: Redis, workspace_id: int, raw: Mapping[str, Any]) -> list[PreviewRow]:
    """Where each typed address (and the first members of a chosen segment) would go now, as a send to the
    chosen list with the chosen tag would route it, flagged with why a send would skip it (blacklist,
    suppression lists, its status on a list)."""
    segment_id = await owned_id(Segment, workspace_id, chosen_id(
        raw.get("segment_id"), "segment_id", RoutingError, "Choose a segment."))
    list_id = await owned_id(MailingList, workspace_id, chosen_id(
        raw.get("list_id"), "list_id", RoutingError, "Choose a list."))
    emails = preview_addresses(str(raw.get("addresses", "")))
    if segment_id is not None:
        segment = await segments.get_segment(workspace_id, segment_id)
        members = await segments.preview(workspace_id, {"list_ids": segment["list_ids"],
                                                        "conditions": segment["conditions"]}, limit=PREVIEW_LIMIT)
        emails = list(dict.fromkeys(emails + [row["email"] for row in members]))
    context = await routing_context(workspace_id)
    tag = str(raw.get("tag", "")).strip()
    return [PreviewRow(route=await route(redis, workspace_id, email, list_id, tag, context),
                       not_mailable=await why_not_mailable(workspace_id, email)) for email in emails]
