"""The development capture: messages are stored in PostgreSQL for the inbox viewer, never sent.

Only the newest `keep` messages of a workspace stay (CAPTURE_KEEP_PER_WORKSPACE,
1,000 by default); older ones are deleted as new ones arrive and counted in
`captured_overflow`, so a million-recipient campaign sent to the development
inbox does not fill the database with 20 KB rows.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from email.header import decode_header, make_header
from email.parser import BytesHeaderParser

from app.db.inbox import CapturedMessage
from app.esp.base import Health, OutgoingMessage, SendResult
from app.services.sqlparams import fetch_positional
from app.settings import get_settings

# $1 workspace, $2 how many to keep: everything older than the keep-th newest goes, and is counted.
_PRUNE = """
WITH doomed AS (
    DELETE FROM captured_messages
    WHERE workspace_id = $1::integer AND id < (
        SELECT id FROM captured_messages WHERE workspace_id = $1::integer
        ORDER BY id DESC OFFSET $2::integer - 1 LIMIT 1)
    RETURNING 1
)
INSERT INTO captured_overflow AS o (workspace_id, dropped)
SELECT $1::integer, count(*) FROM doomed HAVING count(*) > 0
ON CONFLICT (workspace_id) DO UPDATE SET dropped = o.dropped + excluded.dropped, updated_at = now()
"""


def received_subject(message: OutgoingMessage) -> str:
    """The Subject the recipient sees (merged, spun, decoded), from the message itself; the message's own
    `subject` (a campaign's template subject) when the bytes carry none."""
    found = BytesHeaderParser().parsebytes(message.raw).get("Subject")
    if found is None:
        return message.subject
    try:
        return str(make_header(decode_header(str(found))))
    except (LookupError, UnicodeDecodeError, ValueError):
        return str(found)


async def dropped_count(workspace_id: int) -> int:
    """How many captured messages of the workspace were deleted to keep only the newest."""
    rows = await fetch_positional("SELECT dropped FROM captured_overflow WHERE workspace_id = $1::integer",
                                  [workspace_id])
    return rows[0]["dropped"] if rows else 0


class CaptureESP:
    def __init__(self, keep: int | None = None) -> None:
        self.keep = keep if keep is not None else get_settings().sending.capture_keep

    async def send(self, messages: list[OutgoingMessage]) -> list[SendResult]:
        if not messages:
            return []
        created_at = datetime.now(UTC)
        await CapturedMessage.insert(
            *[
                CapturedMessage(
                    workspace_id=message.workspace_id,
                    mail_from=message.mail_from,
                    rcpt_to=", ".join(message.recipients),
                    subject=received_subject(message),
                    message_id=message.message_id,
                    raw=message.raw,
                    created_at=created_at,
                )
                for message in messages
            ]
        )
        for workspace_id in Counter(message.workspace_id for message in messages):
            await fetch_positional(_PRUNE, [workspace_id, max(self.keep, 1)])
        return [SendResult(message_id=m.message_id, accepted=True, response="250 captured") for m in messages]

    async def check(self) -> Health:
        return Health(ok=True, detail=f"development capture: the newest {self.keep:,} messages per workspace "
                                      "stay in the inbox viewer")
