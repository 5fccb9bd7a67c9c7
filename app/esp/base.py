"""The one small protocol every ESP adapter implements."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class OutgoingMessage:
    workspace_id: int
    mail_from: str
    recipients: tuple[str, ...]
    raw: bytes
    message_id: str = ""
    subject: str = ""
    # Campaign/job name for the ESP's own accounting: PowerMTA's X-Job header, SES and Mailgun tags.
    job: str = ""
    # `raw` has CRLF line ends only and no line starting with a dot, as the campaign renderer writes it:
    # SMTP sends it without scanning it for dot-stuffing (see rendering/mime._canonical).
    wire_ready: bool = False


@dataclass(frozen=True)
class SendResult:
    message_id: str
    accepted: bool
    transient: bool = False
    response: str = ""
    # The SMTP reply code or HTTP status; None when the ESP gave no answer for this message.
    # Transient with no code means the connection, TLS or login failed: the server's fault, not the message's.
    code: int | None = None


@dataclass(frozen=True)
class Health:
    ok: bool
    detail: str = ""
    extra: dict[str, str] = field(default_factory=dict)


class EmailServiceProvider(Protocol):
    async def send(self, messages: list[OutgoingMessage]) -> list[SendResult]: ...

    async def check(self) -> Health: ...
