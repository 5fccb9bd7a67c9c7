"""Accepting messages: checked, stored and queued at once, one statement for a whole batch.

The content is checked once per call; one statement (`transactional.accept`) then reads the template, finds the
addresses that may not be mailed, and stores a delivery row and a message row for every other recipient, with
the content (or a pointer to the same content stored before: a template's HTML is not written again for every
message): a message is accepted in one round trip. Single messages that arrive together in one process, with
the same content and submission, share that statement (gathering.py): under load, one statement stores many.
Refused addresses are answered one by one with a stable code, never silently dropped.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import msgspec

from app.piccolo_conf import DB
from app.services import statements
from app.services.campaigns.queue import id_ranges
from app.services.forms import FormError
from app.services.sqlparams import fetch_positional
from app.services.subscribers.records import SubscriberError, normalized_email
from app.services.suppression import entries
from app.services.suppression.mailable import STATUS_REASONS, Suppression, suppressions_of
from app.services.tenancy import checked_workspace_id
from app.services.transactional.content import (
    Attachment,
    ContentInput,
    MessageRefused,
    checked_content,
    content_fingerprint,
    content_values,
    store_attachments,
)
from app.services.transactional.gathering import Gathering
from app.services.transactional.stream import stream_campaign_id
from app.settings import get_settings

MAX_BATCH = 10_000
MAX_TAGS = 10
MAX_TAG_LENGTH = 64
MAX_METADATA_BYTES = 4096
MAX_SCHEDULE_AHEAD = timedelta(days=30)
# Messages due within this long are queued with a delay at once; later ones wait for the minute sweep.
QUEUE_AHEAD_SECONDS = 3600
# Statuses that keep an address from transactional mail too; a pending double opt-in does not.
# Receipts and password resets are still owed to someone who unsubscribed from a marketing list: only an address
# that bounced for good, complained or was blacklisted (and every suppression list entry) refuses them.
REFUSING_STATUSES = ("bounced", "complained", "blacklisted")
SUPPRESSED = "recipient_suppressed"
INVALID = "invalid_recipient"
# Sandbox keys choose an outcome by address at this domain (sending.py). A simulated hard bounce blacklists the
# address as a real one would, so the sandbox never refuses the simulator's own addresses.
SIMULATOR_DOMAIN = "simulator.ignite.test"


class MessageQueue(Protocol):
    def send_batch(self, workspace_id: int, campaign_id: int, first_id: int, last_id: int,
                   delay_seconds: float = 0.0) -> None:
        """Have the transactional worker claim and send the waiting messages of this id range."""
        ...


@dataclass(frozen=True)
class RecipientInput:
    email: str
    data: Mapping[str, Any] = field(default_factory=dict)
    metadata: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Submission:
    """Who sends and how: the key, whether it is a sandbox key, the tags and the time to send."""

    api_key_id: int | None
    sandbox: bool = False
    tags: Sequence[str] = ()
    scheduled_at: datetime | None = None


@dataclass(frozen=True)
class Accepted:
    """One recipient's answer: the message id, or the code and message of its refusal."""

    email: str
    id: int | None = None
    code: str = ""
    message: str = ""


def simulated(email: str) -> bool:
    return email.rpartition("@")[2] == SIMULATOR_DOMAIN


def checked_addresses(emails: Sequence[str], sandbox: bool) -> list[str]:
    """The addresses whose mailability counts: all of them, but the simulator's for a sandbox message."""
    return [email for email in emails if not (sandbox and simulated(email))]


async def refused_addresses(workspace_id: int, emails: Sequence[str]) -> dict[str, str]:
    """Why each address that may not be mailed may not: a blacklist or suppression list entry, or a status
    (hard-bounced, complained, blacklisted) on any list of the workspace. One query each."""
    if not emails:
        return {}
    reasons = {address: found[0].sentence for address, found in (await suppressions_of(workspace_id,
                                                                                       list(emails))).items()}
    rows = await fetch_positional(
        "SELECT DISTINCT ON (email) email, status FROM subscribers WHERE workspace_id = $1::integer "
        "AND email = ANY($2::text[]) AND status = ANY($3::text[]) ORDER BY email, status",
        [checked_workspace_id(workspace_id), list(set(emails)), list(REFUSING_STATUSES)])
    for row in rows:
        reasons.setdefault(row["email"], f"It {STATUS_REASONS[row['status']]}.")
    return reasons


def checked_tags(tags: Sequence[str]) -> list[str]:
    cleaned = list(dict.fromkeys(tag.strip() for tag in tags if tag.strip()))
    if len(cleaned) > MAX_TAGS or any(len(tag) > MAX_TAG_LENGTH for tag in cleaned):
        raise FormError({"tags": f"Up to {MAX_TAGS} tags of {MAX_TAG_LENGTH} characters each."})
    return cleaned


def checked_schedule(moment: datetime | None, now: datetime) -> datetime | None:
    """None for "now" (a moment already past is now); FormError beyond the furthest a message may wait."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        raise FormError({"scheduled_at": "Give a time zone, e.g. 2026-12-01T09:30:00Z."})
    if moment > now + MAX_SCHEDULE_AHEAD:
        raise FormError({"scheduled_at": f"Schedule at most {MAX_SCHEDULE_AHEAD.days} days ahead."})
    return moment if moment > now else None


def _json(value: Mapping[str, Any]) -> str:
    return msgspec.json.encode(value, enc_hook=str).decode()


def _metadata_text(metadata: Mapping[str, Any], field: str) -> str:
    text = _json(metadata)
    if len(text.encode()) > MAX_METADATA_BYTES:
        raise FormError({field: f"Keep metadata under {MAX_METADATA_BYTES} bytes."})
    return text


def _sorted_recipients(recipients: Sequence[RecipientInput]) -> tuple[list[tuple[int, str]], list[Accepted | None]]:
    """(position, normalised address) of the well-formed, and an answer slot per recipient (refusals filled)."""
    answers: list[Accepted | None] = [None] * len(recipients)
    usable = []
    for position, recipient in enumerate(recipients):
        given = recipient.email.strip().lower()
        if simulated(given) and given.count("@") == 1 and given.partition("@")[0].isalnum():
            # `.test` is reserved, so no address validator passes it: the sandbox's own domain is known good.
            usable.append((position, given))
            continue
        try:
            usable.append((position, normalized_email(recipient.email)))
        except SubscriberError as exc:
            answers[position] = Accepted(recipient.email, code=INVALID, message=exc.errors["email"])
    return usable, answers


def _probes(emails: Sequence[str]) -> tuple[list[str], list[str], list[str]]:
    """The (address, kind, value) columns a suppression entry of each address may match."""
    probes = [(email, kind, value) for email in dict.fromkeys(emails) for kind, value in entries.hashed(email).items()]
    return [row[0] for row in probes], [row[1] for row in probes], [row[2] for row in probes]


def _refusals(rows: Sequence[dict[str, Any]]) -> dict[str, str]:
    """Why each refused address may not be mailed, from the statement's 'suppressed' and 'status' rows: a
    blacklist entry first, then suppression lists by name (as `suppressions_of` orders them), then a status."""
    found = sorted((row for row in rows if row["outcome"] == "suppressed"),
                   key=lambda row: (not row["is_blacklist"], row["list_name"], row["kind"]))
    reasons: dict[str, str] = {}
    for row in found:
        reasons.setdefault(row["email"], Suppression(row["list_name"], row["is_blacklist"], row["kind"],
                                                     row["value"]).sentence)
    for row in rows:
        if row["outcome"] == "status":
            reasons.setdefault(row["email"], f"It {STATUS_REASONS[row['kind']]}.")
    return reasons


@dataclass(frozen=True)
class _Shared:
    """What the calls stored by one statement have in common: its arguments but the recipients' ones."""

    head: tuple[Any, ...]  # $1 to $14: workspace, stream, content, key, batch
    tags: tuple[str, ...]
    scheduled_at: datetime | None
    sandbox: bool
    fingerprint: bytes | None


@dataclass(frozen=True)
class _Recipients:
    """One call's part of a statement: its well-formed addresses with their data and metadata, and those whose
    mailability counts."""

    emails: list[str]
    data: list[str]
    metadata: list[str]
    counted: list[str]


def _arguments(shared: _Shared, calls: Sequence[_Recipients]) -> tuple[Any, ...]:
    counted = list(dict.fromkeys(email for call in calls for email in call.counted))
    return (*shared.head, [email for call in calls for email in call.emails],
            [data for call in calls for data in call.data], [text for call in calls for text in call.metadata],
            list(shared.tags), shared.scheduled_at, shared.sandbox, *_probes(counted), counted,
            list(REFUSING_STATUSES), shared.fingerprint)


def _retry(rows: Sequence[dict[str, Any]]) -> bool:
    return any(row["outcome"] == "retry" for row in rows)


async def _stored(arguments: tuple[Any, ...], attachments: Sequence[Attachment],
                  workspace_id: int) -> list[dict[str, Any]]:
    """The rows of `transactional.accept`; the attachments stored in the same transaction when there are any."""
    if not attachments:
        # One statement, atomic by itself: no transaction's round trips on the API's hottest path.
        rows = await statements.run("transactional.accept", *arguments)
        if _retry(rows):
            # Another call stored the same content meanwhile and has committed it: a new statement sees it.
            rows = await statements.run("transactional.accept", *arguments)
        if _retry(rows):
            raise RuntimeError("the message's content was stored and removed while accepting it")
        return rows
    async with DB.transaction():
        rows = await statements.run("transactional.accept", *arguments)
        if rows and rows[0]["outcome"] == "accepted":
            await store_attachments(workspace_id, rows[0]["content_id"], attachments)
    return rows


def _split(rows: Sequence[dict[str, Any]], calls: Sequence[_Recipients]) -> list[list[dict[str, Any]]]:
    """Each call's rows of a shared statement: its own 'accepted' ones (by position), and every row about refused
    addresses and the template (a call reads the refusals of its own addresses only)."""
    common = [row for row in rows if row["outcome"] != "accepted"]
    accepted = iter(row for row in rows if row["outcome"] == "accepted")
    row = next(accepted, None)
    parts, end = [], 0
    for call in calls:
        end += len(call.emails)
        own = []
        while row is not None and row["n"] <= end:
            own.append(row)
            row = next(accepted, None)
        parts.append([*own, *common])
    return parts


async def _stored_together(shared: _Shared, calls: Sequence[_Recipients]) -> list[list[dict[str, Any]]]:
    return _split(await _stored(_arguments(shared, calls), (), shared.head[0]), calls)


# Single messages of the same content and submission that arrive together are stored by one statement.
_GATHERED: Gathering[_Shared, _Recipients, list[dict[str, Any]]] = Gathering(_stored_together)


async def _accepted(workspace_id: int, recipients: Sequence[RecipientInput], content: ContentInput,
                    submission: Submission, queue: MessageQueue, batch_id: str | None) -> list[Accepted]:
    now = datetime.now(UTC)
    scheduled_at = checked_schedule(submission.scheduled_at, now)
    tags = checked_tags(submission.tags)
    metadata = [_metadata_text(recipient.metadata, f"recipients[{position}].metadata" if batch_id else "metadata")
                for position, recipient in enumerate(recipients)]
    checked = await checked_content(workspace_id, content)
    usable, answers = _sorted_recipients(recipients)
    stream = await stream_campaign_id(workspace_id)
    shared = _Shared((workspace_id, stream, *content_values(checked), submission.api_key_id, batch_id), tuple(tags),
                     scheduled_at, submission.sandbox, content_fingerprint(checked))
    mine = _Recipients([email for _, email in usable], [_json(recipients[position].data) for position, _ in usable],
                       [metadata[position] for position, _ in usable],
                       checked_addresses([email for _, email in usable], submission.sandbox))
    if batch_id is None and usable and not checked.attachments and DB.current_transaction.get() is None:
        rows = await _GATHERED(shared, mine)
    else:
        rows = await _stored(_arguments(shared, [mine]), checked.attachments, workspace_id)
    if any(row["outcome"] == "no_template" for row in rows):
        raise LookupError(f"template {content.template_id}")
    refused = _refusals(rows)
    ids = iter(row["id"] for row in rows if row["outcome"] == "accepted")
    accepted: list[int] = []
    for position, email in usable:
        if email in refused:
            answers[position] = Accepted(email, code=SUPPRESSED, message=f"Not sent to {email}: {refused[email]}")
        else:
            accepted.append(next(ids))
            answers[position] = Accepted(email, id=accepted[-1])
    if accepted:
        _queued(queue, workspace_id, stream, accepted, scheduled_at, now)
    return [answer for answer in answers if answer is not None]


def _queued(queue: MessageQueue, workspace_id: int, stream: int, ids: list[int], scheduled_at: datetime | None,
            now: datetime) -> None:
    delay = (scheduled_at - now).total_seconds() if scheduled_at else 0.0
    if delay > QUEUE_AHEAD_SECONDS:
        return
    for first, last in id_ranges(ids, get_settings().sending.batch_size):
        queue.send_batch(workspace_id, stream, first, last, delay)


async def accept_message(workspace_id: int, content: ContentInput, recipient: RecipientInput,
                         submission: Submission, queue: MessageQueue) -> Accepted:
    """One message, stored and queued; MessageRefused when its recipient may not be mailed."""
    [answer] = await _accepted(workspace_id, [recipient], content, submission, queue, None)
    if answer.id is None:
        if answer.code == INVALID:
            raise FormError({"to": answer.message})
        raise MessageRefused(answer.code, answer.message, "to")
    return answer


async def accept_batch(workspace_id: int, content: ContentInput, recipients: Sequence[RecipientInput],
                       submission: Submission, queue: MessageQueue) -> tuple[str, list[Accepted]]:
    """Up to MAX_BATCH recipients of one content: the batch id and an answer per recipient, in order."""
    if not recipients:
        raise FormError({"recipients": "Give at least one recipient."})
    if len(recipients) > MAX_BATCH:
        raise FormError({"recipients": f"Send at most {MAX_BATCH:,} recipients per batch."})
    batch_id = str(uuid.uuid4())
    return batch_id, await _accepted(workspace_id, recipients, content, submission, queue, batch_id)
