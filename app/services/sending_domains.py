"""Sending domains: DKIM keys (stored encrypted), the DNS records to publish, and checking them."""

from __future__ import annotations

import asyncio
import functools
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import dns.exception
import dns.resolver

from app.db.content import SendingDomain
from app.services import vault
from app.services.accounts import now
from app.services.forms import FormError
from app.services.rendering import DkimSigner, dkim_dns_name, generate_dkim_key
from app.services.tenancy import checked_workspace_id, fetch_owned, owned_by

RETURN_PATH_PREFIX = "bounces."
# The return-path host (bounces.<domain>) must still be a DNS name of at most 253 characters.
DOMAIN_PATTERN = re.compile(r"^(?=.{1,245}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
SELECTOR_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
DEFAULT_SELECTOR = "ignite"
DEFAULT_SPF_INCLUDE = "_spf.ignite.local"


class DomainError(FormError):
    """Form values of this area that cannot be saved."""


@dataclass(frozen=True)
class DnsRecord:
    purpose: str
    kind: str
    name: str
    value: str


@dataclass(frozen=True)
class RecordCheck:
    record: DnsRecord
    passed: bool
    found: str


def cleaned_domain(raw: str) -> str:
    domain = raw.strip().lower().rstrip(".")
    if domain.startswith(("http://", "https://")) or "@" in domain or not DOMAIN_PATTERN.match(domain):
        raise DomainError({"domain": "Enter a domain name such as mail.example.com."})
    return domain


async def domains(workspace_id: int) -> list[dict]:
    return await SendingDomain.select(
        SendingDomain.id, SendingDomain.domain, SendingDomain.dkim_selector, SendingDomain.dns_status,
        SendingDomain.checked_at, SendingDomain.created_at,
    ).where(owned_by(SendingDomain, workspace_id)).order_by(SendingDomain.domain).output(load_json=True)


async def add_from_form(workspace_id: int, raw: Mapping[str, Any]) -> dict:
    """A domain added from the form: its name and DKIM selector as typed."""
    selector = str(raw.get("selector", "")).strip().lower() or DEFAULT_SELECTOR
    return await add_domain(workspace_id, str(raw.get("domain", "")), selector)


async def add_domain(workspace_id: int, raw_domain: str, selector: str = DEFAULT_SELECTOR) -> dict:
    domain = cleaned_domain(raw_domain)
    if not SELECTOR_PATTERN.match(selector):
        raise DomainError({"selector": "Use up to 63 lower-case letters, digits and dashes."})
    if await SendingDomain.exists().where(owned_by(SendingDomain, workspace_id), SendingDomain.domain == domain):
        raise DomainError({"domain": "This domain is already set up."})
    keys = generate_dkim_key()
    rows = await SendingDomain.insert(SendingDomain(
        workspace_id=checked_workspace_id(workspace_id), domain=domain, dkim_selector=selector,
        dkim_private_key=vault.encrypt(keys.private_key_pem), dkim_public_record=keys.dns_value,
        return_path_domain=f"{RETURN_PATH_PREFIX}{domain}", spf_include=DEFAULT_SPF_INCLUDE, created_at=now(),
    )).returning(*SendingDomain.all_columns())
    return rows[0]


async def get_domain(workspace_id: int, domain_id: object) -> dict | None:
    return await fetch_owned(SendingDomain, workspace_id, domain_id)


async def owned_domain(workspace_id: int, domain_id: int) -> dict:
    """The sending domain with this id in this workspace; LookupError when there is none."""
    found = await get_domain(workspace_id, domain_id)
    if found is None:
        raise LookupError("domain")
    return found


async def check_domain(workspace_id: int, domain_id: int, bounce_host: str) -> list[RecordCheck]:
    """Look each record of the domain up in DNS now, and keep the verdicts with the domain."""
    records = records_to_publish(await owned_domain(workspace_id, domain_id), bounce_host)
    # The resolver blocks for up to a few seconds per record: off the event loop, so other requests go on.
    checks = await asyncio.to_thread(check_records, records, configured_resolver())
    await save_check(workspace_id, domain_id, checks)
    return checks


async def delete_domain(workspace_id: int, domain_id: int) -> None:
    rows = await SendingDomain.delete().where(
        owned_by(SendingDomain, workspace_id), SendingDomain.id == domain_id
    ).returning(SendingDomain.id)
    if not rows:
        raise LookupError("domain")


def records_to_publish(domain: dict, bounce_host: str) -> list[DnsRecord]:
    name = domain["domain"]
    return [
        DnsRecord("DKIM", "TXT", dkim_dns_name(domain["dkim_selector"], name), domain["dkim_public_record"]),
        DnsRecord("SPF", "TXT", name, f"v=spf1 include:{domain['spf_include']} ~all"),
        DnsRecord("DMARC", "TXT", f"_dmarc.{name}", f"v=DMARC1; p=none; rua=mailto:dmarc@{name}"),
        DnsRecord("Return-Path", "CNAME", domain["return_path_domain"], bounce_host),
    ]


def _lookup(resolver: dns.resolver.Resolver, name: str, kind: str) -> list[str]:
    try:
        answer = resolver.resolve(name, kind, lifetime=4)
    except (dns.exception.DNSException, OSError):
        return []
    if kind == "TXT":
        return [b"".join(rdata.strings).decode(errors="replace") for rdata in answer]
    return [rdata.to_text().rstrip(".") for rdata in answer]


def _passes(record: DnsRecord, found: list[str]) -> bool:
    compact = [value.replace(" ", "") for value in found]
    if record.purpose == "DKIM":
        key = record.value.split("p=", 1)[1]
        return any(value.replace(" ", "").endswith(f"p={key}") for value in found)
    if record.purpose == "SPF":
        include = record.value.split()[1]
        return any(value.startswith("v=spf1") and include in value for value in found)
    if record.purpose == "DMARC":
        return any(value.startswith("v=DMARC1") for value in compact)
    return record.value.rstrip(".") in found


def check_records(records: list[DnsRecord], resolver: dns.resolver.Resolver) -> list[RecordCheck]:
    checks = []
    for record in records:
        found = _lookup(resolver, record.name, record.kind)
        checks.append(RecordCheck(record, _passes(record, found), "; ".join(found) or "nothing published"))
    return checks


async def save_check(workspace_id: int, domain_id: int, checks: list[RecordCheck]) -> None:
    await SendingDomain.update({
        SendingDomain.dns_status: {check.record.purpose: check.passed for check in checks},
        SendingDomain.checked_at: now(),
    }).where(owned_by(SendingDomain, workspace_id), SendingDomain.id == domain_id)


async def signer_for(workspace_id: int, from_domain: str) -> DkimSigner | None:
    """The DKIM signer of the workspace's sending domain for this From domain, if one is configured."""
    row = await SendingDomain.select(
        SendingDomain.domain, SendingDomain.dkim_selector, SendingDomain.dkim_private_key,
    ).where(owned_by(SendingDomain, workspace_id), SendingDomain.domain == from_domain.lower()).first()
    if row is None or not row["dkim_private_key"]:
        return None
    return _signer(row["domain"], row["dkim_selector"], row["dkim_private_key"])


@functools.lru_cache(maxsize=256)
def _signer(domain: str, selector: str, encrypted_key: str) -> DkimSigner:
    """Decrypting and loading (checking) an RSA key costs milliseconds: once per process and key.

    Keyed by the stored, encrypted key, so a new key is loaded as soon as it is saved."""
    return DkimSigner(domain=domain, selector=selector, private_key_pem=vault.decrypt(encrypted_key))


def configured_resolver(kind: type[dns.resolver.Resolver] = dns.resolver.Resolver) -> dns.resolver.Resolver:
    """The system resolver, or the one in DNS_RESOLVER (`host` or `host:port`) to check against a specific server."""
    override = os.environ.get("DNS_RESOLVER", "").strip()
    if not override:
        return kind()
    host, _, port = override.partition(":")
    resolver = kind(configure=False)
    resolver.nameservers = [host]
    resolver.port = int(port or 53)
    return resolver
