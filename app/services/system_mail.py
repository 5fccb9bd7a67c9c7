"""Mail that Ignite itself sends to its users (password resets, invitations)."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from app.esp.base import EmailServiceProvider, OutgoingMessage
from app.esp.capture import CaptureESP

SENDER = "Ignite <no-reply@ignite.local>"


def default_sender() -> EmailServiceProvider:
    """Until delivery servers exist, everything goes to the development capture."""
    return CaptureESP()


def system_message(to: str, subject: str, text: str, html: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = SENDER
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain="ignite.local")
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    return message


async def send_system_message(workspace_id: int, to: str, subject: str, text: str, html: str) -> None:
    message = system_message(to, subject, text, html)
    await default_sender().send(
        [
            OutgoingMessage(
                workspace_id=workspace_id,
                mail_from="no-reply@ignite.local",
                recipients=(to,),
                raw=message.as_bytes(),
                message_id=message["Message-ID"],
                subject=subject,
            )
        ]
    )
