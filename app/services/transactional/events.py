"""What became of a transactional message: its status, its events, the log of them all, and cancelling one.

A message's state is read from where each part of the system writes it, never copied: the delivery (queued,
sent, deferred, failed, cancelled), the bounces table (delivered, bounced, complained, from reports and the
send path's answers), the tracking events (opened, clicked, unsubscribed) and the deferrals the sender noted.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from app.services import statements, webhooks
from app.services.forms import FormError
from app.services.sqlparams import Params, fetch
from app.services.tenancy import checked_workspace_id

# What the API and the log call each status; the first are the delivery's, the rest its reports'.
STATUSES = ("queued", "scheduled", "sending", "sent", "deferred", "failed", "cancelled", "delivered", "bounced",
            "complained")
EVENT_KINDS = ("queued", "sent", "deferred", "delivered", "bounced", "opened", "clicked", "complained",
               "unsubscribed", "failed", "cancelled")
REPORTED = {"delivered": "delivered", "hard": "bounced", "soft": "bounced", "block": "bounced",
             "complaint": "complained"}
_TRACKED = {"open": "opened", "click": "clicked", "unsubscribe": "unsubscribed"}
_LARGEST_ID = 2**63 - 1

_SELECT = """
SELECT m.id, m.email, m.batch_id::text AS batch_id, m.tags, m.metadata::text AS metadata, m.scheduled_at,
       m.sandbox, m.created_at, m.deferrals::text AS deferrals, m.api_key_id, d.status AS delivery_status,
       d.attempts, d.last_answer, d.sent_at, d.updated_at, d.subscriber_id, d.provider_message_id,
       c.subject, c.from_email, c.template_id, s.name AS server_name,
       coalesce(e.opens, 0) AS opens, coalesce(e.clicks, 0) AS clicks, e.first_open_at, e.first_click_at,
       b.category AS reported
FROM transactional_messages m
JOIN deliveries d ON d.id = m.id AND d.workspace_id = m.workspace_id
JOIN transactional_contents c ON c.id = m.content_id AND c.workspace_id = m.workspace_id
LEFT JOIN delivery_servers s ON s.id = d.server_id AND s.workspace_id = m.workspace_id
LEFT JOIN delivery_engagement e ON e.delivery_id = m.id
LEFT JOIN LATERAL (
    SELECT b.category FROM bounces b
    WHERE b.delivery_id = m.id AND b.workspace_id = m.workspace_id AND b.category <> 'autoreply'
    ORDER BY b.category = 'complaint' DESC, b.id DESC LIMIT 1
) b ON true
"""


@dataclass(frozen=True)
class MessageFilter:
    status: str = ""
    email: str = ""
    tag: str = ""
    since: datetime | None = None
    until: datetime | None = None
    # A key's own kind of messages: a sandbox key's, or a live key's (None: both, as the Mailing log shows them).
    sandbox: bool | None = None

    @property
    def active(self) -> bool:
        return bool(self.status or self.email or self.tag or self.since or self.until)


def _day(raw: str, name: str, errors: dict[str, str]) -> datetime | None:
    text = raw.strip()
    if not text:
        return None
    try:
        return datetime.combine(date.fromisoformat(text), time(), UTC)
    except ValueError:
        errors[name] = "Enter a date such as 2026-12-01."
        return None


def log_filter(raw: Mapping[str, Any]) -> MessageFilter:
    """The log's search as typed: dates are whole UTC days, both included; FormError names each bad field."""
    errors: dict[str, str] = {}
    status = str(raw.get("status") or "").strip()
    if status and status not in STATUSES:
        errors["status"] = "Choose a status from the list."
    since = _day(str(raw.get("since") or ""), "since", errors)
    until = _day(str(raw.get("until") or ""), "until", errors)
    if since and until and until < since:
        errors["until"] = "The end date is before the start date."
    if errors:
        raise FormError(errors)
    return MessageFilter(status, str(raw.get("email") or "").strip().lower()[:320],
                         str(raw.get("tag") or "").strip()[:64], since,
                         until + timedelta(days=1) if until else None)


def status_of(row: dict[str, Any], now: datetime | None = None) -> str:
    """The one word for where the message is: its latest report, else its delivery's state."""
    if row["reported"] in REPORTED:
        return REPORTED[row["reported"]]
    status = row["delivery_status"]
    if status == "queued":
        scheduled = row["scheduled_at"]
        return "scheduled" if scheduled and scheduled > (now or datetime.now(UTC)) else "queued"
    return "sending" if status == "claimed" else status


def _shaped(row: dict[str, Any]) -> dict[str, Any]:
    row["metadata"] = json.loads(row["metadata"]) if isinstance(row["metadata"], str) else row["metadata"]
    row["deferrals"] = json.loads(row["deferrals"]) if isinstance(row["deferrals"], str) else row["deferrals"]
    row["status"] = status_of(row)
    return row


def _message_id(message_id: object) -> int:
    try:
        pk = int(message_id)  # type: ignore[call-overload]
    except (TypeError, ValueError) as exc:
        raise LookupError("message") from exc
    if not 0 < pk <= _LARGEST_ID:
        raise LookupError("message")
    return pk


async def message_of(workspace_id: int, message_id: object, sandbox: bool | None = None) -> dict[str, Any]:
    """The workspace's message with its status and figures; LookupError (404) for any other id, and for a
    message of the other kind than `sandbox` asks for (a test key's messages are not a live key's)."""
    params = Params()
    kind = "" if sandbox is None else f"AND m.sandbox = {params.add(sandbox)} "
    rows = await fetch(f"{_SELECT} WHERE m.workspace_id = {params.add(checked_workspace_id(workspace_id))} "
                       f"AND m.id = {params.add(_message_id(message_id))} {kind}", params)
    if not rows:
        raise LookupError("message")
    return _shaped(rows[0])


def _status_condition(params: Params, status: str) -> str:
    if status in ("delivered", "bounced", "complained"):
        return f"b.category = ANY({params.add([k for k, v in REPORTED.items() if v == status])}::text[])"
    if status == "queued":
        return "d.status = 'queued' AND (m.scheduled_at IS NULL OR m.scheduled_at <= now())"
    if status == "scheduled":
        return "d.status = 'queued' AND m.scheduled_at > now()"
    return f"d.status = {params.add('claimed' if status == 'sending' else status)}"


async def messages_page(workspace_id: int, chosen: MessageFilter, before_id: int | None = None,
                        limit: int = 50) -> tuple[list[dict[str, Any]], int | None]:
    """Newest first, keyset-paginated on id: the page, and the id to continue before (None at the end)."""
    params = Params()
    where = [f"m.workspace_id = {params.add(checked_workspace_id(workspace_id))}"]
    if before_id is not None:
        where.append(f"m.id < {params.add(before_id)}")
    if chosen.email:
        where.append(f"m.email = {params.add(chosen.email.strip().lower())}")
    if chosen.tag:
        where.append(f"m.tags @> ARRAY[{params.add(chosen.tag.strip())}]::text[]")
    if chosen.since is not None:
        where.append(f"m.created_at >= {params.add(chosen.since)}")
    if chosen.until is not None:
        where.append(f"m.created_at < {params.add(chosen.until)}")
    if chosen.status:
        where.append(_status_condition(params, chosen.status))
    if chosen.sandbox is not None:
        where.append(f"m.sandbox = {params.add(chosen.sandbox)}")
    rows = await fetch(f"{_SELECT} WHERE {' AND '.join(where)} ORDER BY m.id DESC LIMIT {params.add(limit + 1)}",
                       params)
    page = [_shaped(row) for row in rows[:limit]]
    return page, (page[-1]["id"] if len(rows) > limit else None)


async def _tracked(workspace_id: int, message: dict[str, Any]) -> list[dict[str, Any]]:
    """Opens, clicks and unsubscribes, through the index that holds them: the subscriber's, or the one of
    events without a subscriber."""
    params = Params()
    who = ("e.subscriber_id IS NULL" if message["subscriber_id"] is None
           else f"e.subscriber_id = {params.add(message['subscriber_id'])}")
    return await fetch(
        f"SELECT e.kind, e.url, e.occurred_at FROM events e WHERE {who} "
        f"AND e.delivery_id = {params.add(message['id'])} "
        f"AND e.workspace_id = {params.add(checked_workspace_id(workspace_id))} "
        f"AND e.kind = ANY({params.add(list(_TRACKED))}::text[]) ORDER BY e.occurred_at, e.id", params)


async def _reported(workspace_id: int, message_id: int) -> list[dict[str, Any]]:
    params = Params()
    return await fetch(
        "SELECT b.category, b.status, b.diagnostic, b.occurred_at FROM bounces b "
        f"WHERE b.delivery_id = {params.add(message_id)} "
        f"AND b.workspace_id = {params.add(checked_workspace_id(workspace_id))} ORDER BY b.occurred_at, b.id",
        params)


async def message_events(workspace_id: int, message_id: object, sandbox: bool | None = None) -> list[dict[str, Any]]:
    """Everything that happened to the message, oldest first: `{"kind", "at", "detail"}`."""
    message = await message_of(workspace_id, message_id, sandbox)
    found = [{"kind": "queued", "at": message["created_at"], "detail": ""}]
    found += [{"kind": "deferred", "at": datetime.fromisoformat(item["at"]), "detail": item["answer"]}
              for item in message["deferrals"]]
    if message["sent_at"] is not None:
        found.append({"kind": "sent", "at": message["sent_at"],
                      "detail": message["server_name"] or message["last_answer"]})
    if message["delivery_status"] in ("failed", "cancelled", "deferred"):
        if message["delivery_status"] != "deferred" or not message["deferrals"]:
            found.append({"kind": message["delivery_status"], "at": message["updated_at"],
                          "detail": message["last_answer"]})
    found += [{"kind": REPORTED[row["category"]], "at": row["occurred_at"],
               "detail": " ".join(part for part in (row["status"], row["diagnostic"]) if part)}
              for row in await _reported(workspace_id, message["id"]) if row["category"] in REPORTED]
    found += [{"kind": _TRACKED[row["kind"]], "at": row["occurred_at"], "detail": row["url"]}
              for row in await _tracked(workspace_id, message)]
    return sorted(found, key=lambda event: event["at"])


class NotCancellable(ValueError):
    """The message is no longer waiting: it is being sent, was sent, or was cancelled already."""


async def cancel_message(workspace_id: int, message_id: object, sandbox: bool | None = None) -> dict[str, Any]:
    """Cancel a message still waiting (scheduled, or queued and not yet taken); LookupError, NotCancellable."""
    pk = _message_id(message_id)
    message = await message_of(workspace_id, pk, sandbox)
    if not await statements.run("transactional.cancel", checked_workspace_id(workspace_id), pk):
        raise NotCancellable(f"The message is {message['status']}: only a message still waiting can be cancelled.")
    cancelled = await message_of(workspace_id, pk)
    await published_statuses(workspace_id, [StatusChange(cancelled, "cancelled", cancelled["last_answer"])])
    return cancelled


@dataclass(frozen=True)
class StatusChange:
    """A message (a row with its id, email, tags and metadata) that moved to `status`, and what was said."""

    message: Mapping[str, Any]
    status: str
    answer: str = ""

    def payload(self) -> dict[str, Any]:
        metadata = self.message["metadata"]
        # `sandbox`: a test key's message, whose outcome was simulated, so a receiver can tell it from real mail.
        return {"id": self.message["id"], "email": self.message["email"], "status": self.status,
                "answer": self.answer, "sandbox": bool(self.message["sandbox"]),
                "tags": list(self.message["tags"] or []),
                "metadata": json.loads(metadata) if isinstance(metadata, str) else metadata}


async def published_statuses(workspace_id: int, changes: Sequence[StatusChange]) -> None:
    """`message.status` for each change, to the workspace's webhook endpoints that hear it."""
    if changes:
        await webhooks.publish_many(workspace_id, [("message.status", change.payload()) for change in changes])
