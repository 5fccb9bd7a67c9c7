"""An SMTP server that records every message it accepts by Message-ID, for counting losses and duplicates."""

from __future__ import annotations

import re
import threading
from collections import Counter
from dataclasses import dataclass, field

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP as SMTPServer
from aiosmtpd.smtp import Envelope, Session

from app.embedded import free_port

MESSAGE_ID = re.compile(rb"^Message-ID:\s*(<[^>\r\n]+>)", re.MULTILINE | re.IGNORECASE)


@dataclass
class RecordingHandler:
    """Accepts every message (unless told to answer otherwise) and keeps its Message-ID and recipient."""

    ids: list[str] = field(default_factory=list)
    recipients: list[str] = field(default_factory=list)
    # The envelope sender of each accepted message, by Message-ID.
    senders: dict[str, str] = field(default_factory=dict)
    bodies: dict[str, bytes] = field(default_factory=dict)
    keep_bodies: bool = False
    # Answer DATA with this instead of accepting, while `refuse_left` lasts (e.g. "454 4.7.0 Throttling").
    refusal: str = ""
    refuse_left: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: SMTPServer, session: Session, envelope: Envelope) -> str:
        content = bytes(envelope.content)
        found = MESSAGE_ID.search(content)
        message_id = found.group(1).decode() if found else ""
        with self.lock:
            if self.refuse_left:
                self.refuse_left -= 1
                return self.refusal
            self.ids.append(message_id)
            self.recipients.extend(envelope.rcpt_tos)
            self.senders[message_id] = envelope.mail_from or ""
            if self.keep_bodies:
                self.bodies[message_id] = content
            return f"250 2.0.0 Ok: queued as Q{len(self.ids)}"

    def counts(self) -> Counter[str]:
        with self.lock:
            return Counter(self.ids)

    @property
    def received(self) -> int:
        return len(self.ids)


class RecordingServer:
    def __init__(self, handler: RecordingHandler | None = None) -> None:
        self.handler = handler or RecordingHandler()
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=free_port())

    def __enter__(self) -> RecordingServer:
        self.controller.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.controller.stop()

    @property
    def port(self) -> int:
        return self.controller.port
