"""Optional MX checks: find the domains of a list that cannot receive mail, and mark their subscribers.

Email syntax is checked on every add; whether a domain accepts mail needs DNS
and is slow, so it runs in the background on demand. A domain with neither an
MX nor an address record cannot receive mail (RFC 5321 §5.1); one that
merely times out is given the benefit of the doubt.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import dns.asyncresolver
import dns.exception
import dns.resolver

from app.db.audience import Subscriber
from app.services.subscribers import SubscriberFilter, change_status
from app.services.tenancy import checked_workspace_id

CONCURRENT_LOOKUPS = 20


@dataclass(frozen=True)
class MxReport:
    domains_checked: int
    dead_domains: list[str]
    subscribers_marked: int


async def _receives_mail(resolver: dns.asyncresolver.Resolver, domain: str) -> bool:
    for kind in ("MX", "A", "AAAA"):
        try:
            await resolver.resolve(domain, kind, lifetime=5)
            return True
        except (dns.resolver.NXDOMAIN, dns.resolver.NoNameservers):
            return False
        except dns.resolver.NoAnswer:
            continue
        except dns.exception.Timeout:
            return True
    return False


async def dead_domains(domains: list[str], resolver: dns.asyncresolver.Resolver) -> list[str]:
    slots = asyncio.Semaphore(CONCURRENT_LOOKUPS)

    async def check(domain: str) -> str | None:
        async with slots:
            return None if await _receives_mail(resolver, domain) else domain

    results = await asyncio.gather(*(check(domain) for domain in domains))
    return sorted(domain for domain in results if domain)


async def check_list(workspace_id: int, list_id: int, resolver: dns.asyncresolver.Resolver) -> MxReport:
    """Look up every distinct domain of the list once; subscribers on dead domains become `bounced`."""
    rows = await Subscriber.raw(
        "SELECT DISTINCT email_domain FROM subscribers WHERE workspace_id = {} AND list_id = {} "
        "AND status IN ('confirmed', 'unconfirmed')",
        checked_workspace_id(workspace_id), list_id,
    )
    domains = [row["email_domain"] for row in rows if row["email_domain"]]
    dead = await dead_domains(domains, resolver)
    marked = 0
    if dead:
        ids = [row["id"] for row in await Subscriber.raw(
            "SELECT id FROM subscribers WHERE workspace_id = {} AND list_id = {} AND email_domain = ANY({}) "
            "AND status IN ('confirmed', 'unconfirmed')", workspace_id, list_id, dead,
        )]
        marked = await change_status(workspace_id, SubscriberFilter(ids=ids), "bounced", "mx-check")
    return MxReport(domains_checked=len(domains), dead_domains=dead, subscribers_marked=marked)
