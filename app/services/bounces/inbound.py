"""The inbound MX: an SMTP receiver (aiosmtpd) that return-path domains point their MX at, instead of a mailbox.

It takes mail for three kinds of address and refuses every other at RCPT, so it is never an open relay:
- `bounces+<token>@...`, a VERP return path (return_paths.py) whose signature holds: a bounce of that delivery;
- any address at a workspace's return-path domain (`bounces.<sending domain>`) or at the domain of a server's
  bounce address: a bounce or complaint for that workspace;
- `unsubscribe@<return-path domain>`, the `mailto:` of every message's List-Unsubscribe, whose subject carries
  the message's signed delivery token: the recipient is unsubscribed through tracking/recipients.py.
A report is answered 250 only once `intake.accept` has stored it; any failure before that answers 451, so the
sending MTA keeps the report and tries again.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from aiosmtpd.smtp import SMTP, Envelope, Session
from redis.asyncio import Redis

from app.logs import get_logger
from app.services import statements
from app.services.bounces import intake
from app.services.bounces.return_paths import delivery_from_address
from app.services.public_limits import RateLimited
from app.services.tracking import recipients
from app.settings import Settings

log = get_logger("ignite.inbound")

UNSUBSCRIBE = "unsubscribe"
TOKEN_IN_SUBJECT = re.compile(r"\bunsubscribe\s+([A-Za-z0-9_-]{8,200})", re.IGNORECASE)
MAX_RECIPIENTS = 50
# How a mailto unsubscribe is recorded: a List-Unsubscribe action of the mailbox provider, like one-click.
VIA = "mailto"


@dataclass(frozen=True)
class Addressee:
    """What an accepted recipient address is for."""

    address: str
    unsubscribe: bool = False
    workspace_id: int | None = None


def _domain(address: str) -> str:
    return address.rpartition("@")[2].strip().strip(">").lower()


async def _domain_workspace(domain: str) -> tuple[bool, int | None]:
    """Whether a workspace receives mail at this domain, and which one (None when several share the domain)."""
    rows = await statements.run("inbound.domain-workspaces", domain)
    workspaces = {row["workspace_id"] for row in rows}
    return bool(workspaces), (next(iter(workspaces)) if len(workspaces) == 1 else None)


async def addressee(address: str, settings: Settings) -> Addressee | None:
    """What mail to `address` is for, or None when this receiver takes no mail for it."""
    named = delivery_from_address(address, settings)
    if named is not None:
        return Addressee(address, workspace_id=named[0])
    known, workspace_id = await _domain_workspace(_domain(address))
    if not known:
        return None
    local = address.rpartition("@")[0].lower()
    return Addressee(address, unsubscribe=local == UNSUBSCRIBE, workspace_id=workspace_id)


def _source_ref(address: str, content: bytes) -> str:
    """The same message delivered again to the same address (an MTA retrying after a lost 250) is one report."""
    return hashlib.sha256(address.lower().encode() + b"\0" + content).hexdigest()


def _with_envelope_recipient(address: str, content: bytes) -> bytes:
    """The message as a mailbox would keep it: the envelope recipient (the VERP address) in Delivered-To."""
    clean = address.replace("\r", "").replace("\n", "")
    return f"Delivered-To: {clean}\r\n".encode() + content


class InboundHandler:
    """aiosmtpd's handler: checks each RCPT, stores each report, unsubscribes each mailto request."""

    def __init__(self, settings: Settings, redis: Redis, on_reports: Callable[[list[int]], None]) -> None:
        self.settings = settings
        self.redis = redis
        # Hands stored report ids to processing (the CLI queues `process_reports`).
        self.on_reports = on_reports

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope, address: str,
                          rcpt_options: list[str]) -> str:
        if len(envelope.rcpt_tos) >= MAX_RECIPIENTS:
            return "452 4.5.3 Too many recipients"
        try:
            found = await addressee(address, self.settings)
        except Exception:
            log.exception("inbound_rcpt_failed", address=address)
            return "451 4.3.0 Temporary failure, try again later"
        if found is None:
            return f"550 5.1.1 <{address}>: no such recipient here"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = bytes(envelope.original_content or envelope.content or b"")
        peer = session.peer[0] if isinstance(session.peer, tuple) else str(session.peer or "")
        try:
            report_ids = [report_id for address in envelope.rcpt_tos
                          if (report_id := await self._received(address, content, peer)) is not None]
        except RateLimited as limited:
            return f"451 4.7.1 Too many requests; try again in {limited.retry_after} seconds"
        except Exception:
            log.exception("inbound_data_failed", recipients=envelope.rcpt_tos)
            return "451 4.3.0 Temporary failure, try again later"
        if report_ids:
            self.on_reports(report_ids)
        return "250 2.0.0 Accepted"

    async def _received(self, address: str, content: bytes, peer: str) -> int | None:
        """The new report's id for a report; None for an unsubscribe or a report already stored."""
        found = await addressee(address, self.settings)
        if found is None:
            return None
        if found.unsubscribe:
            await self._unsubscribe(content, peer)
            return None
        return await intake.accept(intake.Incoming(
            source="mx", source_ref=_source_ref(address, content), raw=_with_envelope_recipient(address, content),
            workspace_id=found.workspace_id))

    async def _unsubscribe(self, content: bytes, peer: str) -> None:
        message = email.message_from_bytes(content, policy=email.policy.default)
        match = TOKEN_IN_SUBJECT.search(str(message.get("Subject", "")))
        recipient = (await recipients.recipient_to_change(self.redis, self.settings, match.group(1), peer)
                     if match else None)
        if recipient is None:
            log.info("inbound_unsubscribe_unknown", subject=str(message.get("Subject", ""))[:200])
            return
        left = await recipients.unsubscribe(self.redis, recipient, recipients.one_click_scope(recipient),
                                            recipients.Visit(via=VIA, ip=peer, agent="List-Unsubscribe mailto"))
        log.info("inbound_unsubscribed", workspace_id=recipient.workspace_id, delivery_id=recipient.delivery_id,
                 lists=len(left))


async def start_receiver(settings: Settings, redis: Redis, on_reports: Callable[[list[int]], None],
                         host: str | None = None, port: int | None = None) -> asyncio.Server:
    """The listening receiver on this event loop (the database and Redis clients are this loop's too)."""
    handler = InboundHandler(settings, redis, on_reports)
    hostname = urlsplit(settings.base_url).hostname or "localhost"

    def protocol() -> Any:
        return SMTP(handler, data_size_limit=settings.inbound.max_message_bytes, enable_SMTPUTF8=True,
                    hostname=hostname, ident="Ignite inbound")

    return await asyncio.get_running_loop().create_server(
        protocol, host or settings.inbound.host, settings.inbound.port if port is None else port)
