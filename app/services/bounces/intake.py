"""Reports enter here: stored once, before anything is read from them, then processed by a task.

Every collector (mailboxes, the inbound MX, provider webhooks) hands each report it received to
`accept` and only then lets go of it (deletes the mailbox message, answers the webhook). `accept`
commits the report on its own, so a crash after it costs a delay (the sweep in app/tasks/bounces.py
picks the report up), and a report received twice (a mailbox message fetched again after a crash, a
replayed webhook) meets the unique `(source, source_ref)` and is stored once.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.services import statements

SOURCES = frozenset({"imap", "pop3", "mx", "ses", "sparkpost", "mailgun", "smtp"})
# A DSN that returns the whole original can be large; what classifies it is in its first part and headers.
MAX_RAW_BYTES = 1_000_000
MAX_REF_CHARS = 255


@dataclass(frozen=True)
class Incoming:
    """One report as a collector received it.

    `source_ref` names it within its source (a mailbox's `<mailbox id>:<uidvalidity>:<uid>`, an SNS
    MessageId, a provider's event id) so that receiving it again is recognised. `format` is "email" for
    a message, or the provider's name for a webhook's JSON. `workspace_id` is given when the source
    already names the workspace (a workspace's mailbox, a webhook URL); else the delivery will.
    """

    source: str
    source_ref: str
    format: str = "email"
    raw: bytes = b""
    workspace_id: int | None = None


async def accept(incoming: Incoming) -> int | None:
    """The new report's id, or None when this (source, source_ref) is already stored."""
    if incoming.source not in SOURCES:
        raise ValueError(f"Unknown bounce report source {incoming.source!r}")
    if not incoming.source_ref or len(incoming.source_ref) > MAX_REF_CHARS:
        raise ValueError(f"A report's source_ref must be 1 to {MAX_REF_CHARS} characters")
    rows = await statements.run(
        "bounces.accept-report", incoming.workspace_id, incoming.source, incoming.source_ref,
        incoming.format, incoming.raw[:MAX_RAW_BYTES], len(incoming.raw))
    return rows[0]["id"] if rows else None
