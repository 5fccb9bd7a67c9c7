"""The development capture: messages are stored in PostgreSQL for the inbox viewer, never sent."""

from __future__ import annotations

from datetime import UTC, datetime

from app.db.inbox import CapturedMessage
from app.esp.base import Health, OutgoingMessage, SendResult


class CaptureESP:
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
                    subject=message.subject,
                    message_id=message.message_id,
                    raw=message.raw,
                    created_at=created_at,
                )
                for message in messages
            ]
        )
        return [SendResult(message_id=m.message_id, accepted=True, response="250 captured") for m in messages]

    async def check(self) -> Health:
        return Health(ok=True, detail="development capture: messages stay in the inbox viewer")
