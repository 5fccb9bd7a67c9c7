"""Where a delivery may go: the endpoint's host resolved at send time and every address it names checked.

Checking the URL when it is saved is not enough: a name can resolve to a public address then and to
127.0.0.1 a minute later (DNS rebinding). So each attempt resolves the host, refuses it when any of its
addresses is private, loopback, link-local, multicast or reserved (unless the workspace allowed private
targets), and then connects to the address it checked, with the name kept in the Host header and in TLS
(SNI and certificate check).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class TargetRefused(ValueError):
    """The endpoint's address may not be reached from here; the message says why."""


@dataclass(frozen=True)
class Target:
    """The URL to connect to (host replaced by the checked address) and the name to present."""

    url: str
    host_header: str
    server_name: str | None


def is_public(address: IpAddress) -> bool:
    mapped = getattr(address, "ipv4_mapped", None)
    if mapped is not None:
        return is_public(mapped)
    return address.is_global and not address.is_multicast


def literal_address(host: str) -> IpAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


async def resolved(host: str, port: int) -> list[IpAddress]:
    """Every address the name resolves to now (a literal address is itself)."""
    literal = literal_address(host)
    if literal is not None:
        return [literal]
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise TargetRefused(f"{host} does not resolve: {exc.strerror or exc}.") from exc
    addresses = [ipaddress.ip_address(info[4][0].split("%", 1)[0]) for info in infos]
    if not addresses:
        raise TargetRefused(f"{host} does not resolve to any address.")
    return addresses


def checked(addresses: list[IpAddress], host: str, allow_private: bool) -> IpAddress:
    """The address to connect to, once every address of the name is allowed."""
    if not allow_private:
        for address in addresses:
            if not is_public(address):
                raise TargetRefused(f"{host} resolves to {address}, a private, loopback, link-local or reserved "
                                    "address; allow private targets in Settings → Webhooks to post there.")
    return addresses[0]


async def target_of(url: str, allow_private: bool) -> Target:
    """The checked target of an endpoint URL, resolved now; TargetRefused when it may not be reached."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    address = checked(await resolved(host, port), host, allow_private)
    shown = f"[{address}]" if address.version == 6 else str(address)
    netloc = f"{shown}:{parts.port}" if parts.port else shown
    host_header = parts.netloc.rpartition("@")[2]
    return Target(url=urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, "")),
                  host_header=host_header, server_name=host if parts.scheme == "https" else None)
