"""Who an unsubscribe link speaks for, and unsubscribing them: from the message's lists, or from every list.

Campaign messages carry one delivery token (tokens.py) in every URL, /u/ included, so the link names the
message: its address, the list row it was sent for and the campaign's lists ("this list" means those of
the campaign's lists the address is on). Links of older mail name only (workspace, address); they still
work, and offer every list.

Nothing here runs on a GET. An unsubscribe writes, in one transaction, the status changes (history kept
by `change_status`), an `unsubscribe` event naming the message, and the campaign's `unsubscribes` figure,
which counts people: only the first unsubscribe through a campaign's message moves it. The figure's
Redis mirror is raised after the commit. The send engine re-reads mailability when it claims each batch
(app/services/campaigns/batches.py), so every message to the address that no batch has claimed yet is
skipped.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from redis.asyncio import Redis
from redis.exceptions import RedisError

from app.logs import get_logger
from app.piccolo_conf import DB
from app.services import opt_outs, statements
from app.services.forms import FormError
from app.services.public_limits import FORGED_LINK, MAILED_LINK, admit
from app.services.subscribers import SubscriberFilter, change_status
from app.services.subscriptions import address_from_unsubscribe_token
from app.services.tracking.aggregator import wait_for_aggregation
from app.services.tracking.figures import raise_figures
from app.services.tracking.tokens import delivery_ref, tracking_keys
from app.settings import Settings

log = get_logger("ignite.tracking")
LIST, ALL = "list", "all"
SUBSCRIBED = frozenset({"confirmed", "unconfirmed"})
# What a person may change themselves; bounced, complained and blacklisted rows are the sender's decision.
CHANGEABLE = SUBSCRIBED | {"unsubscribed"}
# How the person asked, as the status history and the event record it.
SOURCES = {"page": "unsubscribe-link", "one-click": "one-click", "preferences": "preference-centre",
           "mailto": "list-unsubscribe-mailto"}
MAX_AGENT = 512


@dataclass(frozen=True)
class Recipient:
    """An address of a workspace; from a delivery token also the message (campaign, delivery, list row)."""

    workspace_id: int
    email: str
    subscriber_id: int | None = None
    list_id: int | None = None
    campaign_id: int | None = None
    delivery_id: int | None = None
    message_list_ids: frozenset[int] = frozenset()


@dataclass(frozen=True)
class Membership:
    """One list row of the address."""

    subscriber_id: int
    list_id: int
    list_name: str
    status: str
    archived: bool
    fields: dict

    @property
    def subscribed(self) -> bool:
        return self.status in SUBSCRIBED


@dataclass(frozen=True)
class Visit:
    """How and from where a change was asked for: kept in the event."""

    via: str
    ip: str = ""
    agent: str = ""


async def _delivery_recipient(settings: Settings, token: str) -> Recipient | None:
    ref = delivery_ref(tracking_keys(settings), token)
    if ref is None:
        return None
    rows = await statements.run("recipients.delivery-recipient", ref.workspace_id, ref.campaign_id, ref.delivery_id)
    if not rows:
        return None
    row = rows[0]
    lists = {*row["list_ids"], *([row["list_id"]] if row["list_id"] else [])}
    return Recipient(ref.workspace_id, row["email"], row["subscriber_id"], row["list_id"], ref.campaign_id,
                     ref.delivery_id, frozenset(lists))


async def _recipient(settings: Settings, token: str) -> Recipient | None:
    found = await _delivery_recipient(settings, token)
    if found is not None:
        return found
    address = address_from_unsubscribe_token(settings.security.secret_key, token)
    return Recipient(*address) if address else None


async def recipient_to_show(redis: Redis, settings: Settings, token: str, ip: str) -> Recipient | None:
    """Whom a link names, for a page; None for a forged link (counted against the client address)."""
    found = await _recipient(settings, token)
    if found is None:
        await admit(redis, FORGED_LINK, ip=ip)
    return found


async def recipient_to_change(redis: Redis, settings: Settings, token: str, ip: str) -> Recipient | None:
    """Whom a link names, before a change: a genuine link is limited per link (RateLimited when over)."""
    found = await recipient_to_show(redis, settings, token, ip)
    if found is not None:
        await admit(redis, MAILED_LINK, address=token)
    return found


async def memberships(recipient: Recipient) -> list[Membership]:
    """Every list row of the address in the workspace, by list name."""
    rows = await statements.run("recipients.memberships", recipient.workspace_id, recipient.email)
    return [Membership(row["id"], row["list_id"], row["list_name"], row["status"], row["archived"],
                       json.loads(row["fields"] or "{}")) for row in rows]


def message_lists(recipient: Recipient, rows: Iterable[Membership]) -> list[Membership]:
    """The rows "this list" means: the message's lists the address is still subscribed to."""
    return [row for row in rows if row.subscribed and row.list_id in recipient.message_list_ids]


def one_click_scope(recipient: Recipient) -> str:
    """What a one-click unsubscribe leaves: the message's lists, or every list for a link naming no message."""
    return LIST if recipient.message_list_ids else ALL


def chosen_rows(recipient: Recipient, rows: list[Membership], scope: str) -> list[Membership]:
    """The rows an unsubscribe of `scope` leaves: the message's lists, or every subscribed row."""
    if scope == LIST:
        return message_lists(recipient, rows)
    if scope == ALL:
        return [row for row in rows if row.subscribed]
    raise FormError("Choose this list or every list.")


async def left_lists(recipient: Recipient, rows: list[Membership], scope: str, visit: Visit) -> int | None:
    """Unsubscribe `rows` and record it, in the caller's transaction; the campaign's figure when it moved."""
    if not rows:
        return None
    await wait_for_aggregation()
    changed = await change_status(recipient.workspace_id, SubscriberFilter(ids=[row.subscriber_id for row in rows]),
                                  "unsubscribed", SOURCES[visit.via])
    if not changed:
        return None
    meta = {"via": visit.via, "scope": scope, "lists": [row.list_id for row in rows], "ip": visit.ip,
            "ua": visit.agent[:MAX_AGENT]}
    result = await statements.run("recipients.record-unsubscribe", recipient.workspace_id, recipient.campaign_id,
                                  recipient.delivery_id, recipient.subscriber_id or rows[0].subscriber_id,
                                  json.dumps(meta))
    return result[0]["unsubscribes"]


async def after_unsubscribe(redis: Redis, recipient: Recipient, rows: list[Membership], figure: int | None) -> None:
    """After the commit: batches being sent skip these rows at once (opt_outs), and the campaign page's figure
    moves. Both are already true in PostgreSQL, so a Redis error only logs."""
    await opt_outs.announce(redis, recipient.workspace_id, [(row.list_id, recipient.email) for row in rows])
    if figure is None or recipient.campaign_id is None:
        return
    pipeline = redis.pipeline(transaction=False)
    raise_figures(pipeline, recipient.workspace_id, recipient.campaign_id, {"unsubscribes": figure})
    try:
        await pipeline.execute()
    except RedisError as error:
        log.warning("unsubscribe_figure_not_raised", campaign_id=recipient.campaign_id, error=str(error))


async def unsubscribe(redis: Redis, recipient: Recipient, scope: str, visit: Visit) -> list[str]:
    """Unsubscribe from the message's lists (`LIST`) or every list (`ALL`); the names of the lists left now.

    Asking again changes nothing and records nothing."""
    async with DB.transaction():
        rows = chosen_rows(recipient, await memberships(recipient), scope)
        figure = await left_lists(recipient, rows, scope, visit)
    await after_unsubscribe(redis, recipient, rows, figure)
    return [row.list_name for row in rows]


def one_click_problem(base_url: str) -> str | None:
    """Why mailbox providers could not use the one-click unsubscribe (RFC 8058) of messages sent now, or None.

    Messages carry `List-Unsubscribe-Post` only with an https unsubscribe URL, and providers post to it from
    the internet."""
    parts = urlsplit(base_url)
    if parts.scheme != "https":
        return (f"BASE_URL is {base_url}: one-click unsubscribe needs https, so messages go out without the "
                "One-Click header and Gmail and Yahoo show no unsubscribe button. Set BASE_URL to this "
                "server's https address.")
    host = (parts.hostname or "").lower()
    if host == "localhost" or host.endswith((".localhost", ".local", ".internal", ".invalid", ".test")):
        return f"BASE_URL is {base_url}: mailbox providers cannot reach {host} to post one-click unsubscribes."
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return None
    if not address.is_global:
        return f"BASE_URL is {base_url}: mailbox providers cannot reach {host} to post one-click unsubscribes."
    return None
