"""Reading the development inbox: captured messages, parsed for display.

Account mail (password resets, invitations, sign-in notices: envelope ACCOUNT_MAIL_SENDER) belongs to the
person it is addressed to. A reader sees it in full only when it is theirs; a reader who may see everyone's
(an owner) sees it with every link token hidden; nobody else sees it at all, not even in the list.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser

from piccolo.columns.combination import Combinable

from app.db.inbox import CapturedMessage
from app.services.system_mail import ACCOUNT_MAIL_SENDER
from app.services.tenancy import fetch_owned, owned_by
from app.settings import get_settings

PAGE_SIZE = 50
HIDDEN = "[hidden]"
# Reset and invitation tokens (secrets.token_urlsafe(32): 43 characters), and anything as long.
_TOKEN = re.compile(r"[A-Za-z0-9_-]{32,}")


@dataclass(frozen=True)
class Reader:
    """Who is reading the inbox: their address, and whether they may see others' account mail, redacted."""

    email: str
    sees_others_account_mail: bool = False


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


def _readable_by(reader: Reader) -> Combinable:
    """Messages that are not account mail, or account mail addressed to the reader."""
    return (CapturedMessage.mail_from != ACCOUNT_MAIL_SENDER) | (CapturedMessage.rcpt_to == reader.email.lower())


async def captured_messages(workspace_id: int, reader: Reader, before_id: int | None = None,
                            limit: int = PAGE_SIZE) -> list[dict]:
    query = CapturedMessage.select(
        CapturedMessage.id, CapturedMessage.mail_from, CapturedMessage.rcpt_to, CapturedMessage.subject,
        CapturedMessage.created_at,
    ).where(owned_by(CapturedMessage, workspace_id))
    if not reader.sees_others_account_mail:
        query = query.where(_readable_by(reader))
    if before_id is not None:
        query = query.where(CapturedMessage.id < before_id)
    return await query.order_by(CapturedMessage.id, ascending=False).limit(limit)


def _body(message: EmailMessage, subtype: str) -> str:
    part = message.get_body(preferencelist=(subtype,))
    return part.get_content() if part is not None else ""


async def captured_message(workspace_id: int, message_id: object) -> ParsedMessage | None:
    """One captured message of the workspace, whoever it is for (tests and the capture's own checks)."""
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


def redacted(text: str) -> str:
    return _TOKEN.sub(HIDDEN, text)


def without_open_pixel(html: str) -> str:
    """The HTML without its tracking pixel: looking at a message here is not its recipient opening it."""
    pixel = re.escape(get_settings().base_url.rstrip("/")) + r"/o/[A-Za-z0-9_-]+"
    return re.sub(rf'<img\b[^>]*\bsrc="{pixel}"[^>]*>', "", html)


async def message_for(workspace_id: int, reader: Reader, message_id: int) -> ParsedMessage:
    """The message as this reader may see it; LookupError when it is not there for them."""
    message = await captured_message(workspace_id, message_id)
    if message is None:
        raise LookupError("message")
    message = replace(message, html=without_open_pixel(message.html))
    if message.mail_from != ACCOUNT_MAIL_SENDER or message.rcpt_to == reader.email.lower():
        return message
    if not reader.sees_others_account_mail:
        raise LookupError("message")
    return replace(message, text=redacted(message.text), html=redacted(message.html),
                   headers=[(name, redacted(value)) for name, value in message.headers])
