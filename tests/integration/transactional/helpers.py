"""A local message queue the test drains, senders the tests send from, and reading what was sent."""

from __future__ import annotations

import email
import re
import subprocess
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from app.cli import transactional_worker_command, worker_environment
from app.services import transactional
from app.services.sending import Adapters
from tests.api_client import api_key, bearer
from tests.factories import make_verified_domain, make_workspace
from tests.integration.campaigns.workers import Worker

HTML = ('<html><body><p>Hello {{ name | default("there") }}, order {{ order }} is on its way.</p>'
        '<p><a href="https://shop.example.com/orders/{{ order }}">Track it</a></p>'
        '<p><a href="https://shop.example.com/help">Help</a></p></body></html>')
SENDER = "receipts@mail.example.com"
HREF = re.compile(r'href="([^"]*)"')
PIXEL = re.compile(r'<img src="([^"]*/o/[^"]*)"')


@dataclass
class LocalMessageQueue:
    """The service's MessageQueue kept in a list: the test drains it itself, as the transactional worker would."""

    ranges: list[tuple[int, int, int, int, float]] = field(default_factory=list)

    def send_batch(self, workspace_id: int, campaign_id: int, first_id: int, last_id: int,
                   delay_seconds: float = 0.0) -> None:
        self.ranges.append((workspace_id, campaign_id, first_id, last_id, delay_seconds))

    async def drain(self, redis: Any, adapters: Adapters, include_delayed: bool = False) -> int:
        """Run every range queued without a delay (and, with `include_delayed`, the delayed ones queued before
        the call) until none is left; returns the messages claimed."""
        due = [item for item in self.ranges if item[4]] if include_delayed else []
        claimed = 0
        while due or any(not item[4] for item in self.ranges):
            item = due.pop(0) if due else next(i for i in self.ranges if not i[4])
            self.ranges.remove(item)
            claimed += await transactional.send_messages(redis, self, adapters, *item[:4])
        return claimed


class TransactionalWorker(Worker):
    """The transactional queue's own process, started as `ignite worker` starts it."""

    def __init__(self, log: Path) -> None:
        self.log = log
        self.process = subprocess.Popen(transactional_worker_command(), env=worker_environment(),
                                        start_new_session=True, stdout=log.open("ab"), stderr=subprocess.STDOUT)


@dataclass
class Sender:
    workspace: dict
    headers: dict[str, str]


async def sender(scopes: tuple[str, ...] = ("messages:send", "messages:read"), sandbox: bool = False,
                 workspace: dict | None = None) -> Sender:
    """A workspace with a verified sending domain and a key of it."""
    workspace = workspace or await make_workspace()
    await make_verified_domain(workspace["id"], "mail.example.com")
    return Sender(workspace, bearer(await api_key(workspace, scopes=scopes, sandbox=sandbox)))


def raw_message(to: str, **values: Any) -> dict[str, Any]:
    return {"to": to, "from": SENDER, "subject": "Your order {{ order }}", "html": HTML, **values}


def parsed(content: bytes) -> EmailMessage:
    return email.message_from_bytes(content, policy=policy.default)  # type: ignore[return-value]


def html_of(message: EmailMessage) -> str:
    return message.get_body(("html",)).get_content()  # type: ignore[union-attr]
