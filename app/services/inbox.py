"""Reading the development inbox: captured messages, parsed for display."""

from __future__ import annotations

from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser

from app.db.inbox import CapturedMessage
from app.services.tenancy import fetch_owned, owned_by

PAGE_SIZE = 50


@dataclass(frozen=True)
class ParsedMessage:
    id: int
    subject: str
    mail_from: str
    rcpt_to: str
    created_at: object
    headers: list[tuple[str, str]]
    text: str
    html: str
    size: int


async def captured_messages(workspace_id: int, before_id: int | None = None, limit: int = PAGE_SIZE) -> list[dict]:
    query = CapturedMessage.select(
        CapturedMessage.id, CapturedMessage.mail_from, CapturedMessage.rcpt_to, CapturedMessage.subject,
        CapturedMessage.created_at,
    ).where(owned_by(CapturedMessage, workspace_id))
    if before_id is not None:
        query = query.where(CapturedMessage.id < before_id)
    return await query.order_by(CapturedMessage.id, ascending=False).limit(limit)


def _body(message: EmailMessage, subtype: str) -> str:
    part = message.get_body(preferencelist=(subtype,))
    return part.get_content() if part is not None else ""


async def captured_message(workspace_id: int, message_id: object) -> ParsedMessage | None:
    row = await fetch_owned(CapturedMessage, workspace_id, message_id)
    if row is None:
        return None
    raw = bytes(row["raw"])
    message = BytesParser(policy=policy.default).parsebytes(raw)
    return ParsedMessage(
        id=row["id"],
        subject=row["subject"],
        mail_from=row["mail_from"],
        rcpt_to=row["rcpt_to"],
        created_at=row["created_at"],
        headers=[(key, str(value)) for key, value in message.items()],
        text=_body(message, "plain"),
        html=_body(message, "html"),
        size=len(raw),
    )
