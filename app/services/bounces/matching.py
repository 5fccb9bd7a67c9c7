"""Which delivery a bounce, complaint or provider event is about.

Tried in order of how surely each names one delivery: the VERP return path the report was sent to,
the provider's message id (or the delivery id we sent it as metadata), the Message-ID of the message
that bounced, and last the recipient's latest delivery in the workspace. A report never reaches a
delivery of another workspace: when the report's workspace is known (its mailbox, its webhook), every
way is held to it; when it is not (the inbound MX), only the signed return path can name one.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.esp.delivery_tags import delivery_id_in
from app.services.bounces.model import Outcome, Report
from app.services.bounces.return_paths import delivery_from_address
from app.services.sqlparams import fetch_positional

_COLUMNS = "id, workspace_id, campaign_id, subscriber_id, server_id, domain_group, email"


@dataclass(frozen=True)
class DeliveryMatch:
    delivery_id: int
    workspace_id: int
    campaign_id: int | None
    subscriber_id: int | None
    server_id: int | None
    domain_group: str
    email: str


def _match(row: dict | None) -> DeliveryMatch | None:
    if row is None:
        return None
    return DeliveryMatch(row["id"], row["workspace_id"], row["campaign_id"], row["subscriber_id"],
                         row["server_id"], row["domain_group"] or "", row["email"])


async def _by_id(workspace_id: int, delivery_id: int) -> DeliveryMatch | None:
    rows = await fetch_positional(
        f"SELECT {_COLUMNS} FROM deliveries WHERE id = $1 AND workspace_id = $2", [delivery_id, workspace_id])
    return _match(rows[0] if rows else None)


async def _by_provider_id(workspace_id: int, provider_message_id: str) -> DeliveryMatch | None:
    rows = await fetch_positional(
        f"SELECT {_COLUMNS} FROM deliveries WHERE workspace_id = $1 AND provider_message_id = $2 "
        "ORDER BY id DESC LIMIT 1", [workspace_id, provider_message_id])
    return _match(rows[0] if rows else None)


async def _latest_to(workspace_id: int, email: str) -> DeliveryMatch | None:
    rows = await fetch_positional(
        f"SELECT {_COLUMNS} FROM deliveries WHERE workspace_id = $1 AND email = $2 AND status = 'sent' "
        "ORDER BY sent_at DESC LIMIT 1", [workspace_id, email])
    return _match(rows[0] if rows else None)


def provider_id_key(provider_message_id: str) -> str:
    """A provider's message id as stored on deliveries: Mailgun's comes with angle brackets in some places."""
    return provider_message_id.strip().strip("<>").strip()[:255]


def _verp_delivery(workspace_id: int | None, report: Report) -> tuple[int, int] | None:
    named = delivery_from_address(report.envelope_to)
    if named is None or (workspace_id is not None and named[0] != workspace_id):
        return None
    return named


async def delivery_for(workspace_id: int | None, report: Report, outcome: Outcome) -> DeliveryMatch | None:
    """The delivery the outcome is about, or None when nothing names one in the workspace."""
    named = _verp_delivery(workspace_id, report)
    if named is not None and (found := await _by_id(*named)) is not None:
        return found
    if workspace_id is None:
        return None
    return await _unsigned_match(workspace_id, report, outcome)


async def _unsigned_match(workspace_id: int, report: Report, outcome: Outcome) -> DeliveryMatch | None:
    """The ways of naming a delivery that carry no signature, each held to the workspace."""
    if outcome.provider_message_id:
        found = await _by_provider_id(workspace_id, provider_id_key(outcome.provider_message_id))
        if found is not None:
            return found
    recipient = outcome.recipient.strip().lower()
    for delivery_id in (report.delivery_id, delivery_id_in(report.original_message_id)):
        if delivery_id is None or not 0 < delivery_id < 2**63:
            continue
        found = await _by_id(workspace_id, delivery_id)
        if found is not None and _same_message(report, recipient, found):
            return found
    return await _latest_to(workspace_id, recipient) if recipient else None


def _same_message(report: Report, recipient: str, found: DeliveryMatch) -> bool:
    """A message's id names one recipient: a report on several recipients of it (an old-style message to
    many) only matches the one the delivery was for. A lone recipient may differ: a forward's address."""
    return not recipient or recipient == found.email or len(report.outcomes) <= 1
