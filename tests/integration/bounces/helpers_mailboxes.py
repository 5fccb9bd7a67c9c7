"""Shared by the mailbox and inbound-MX tests: a session Dovecot, a DSN to put in it, a mailbox pointing at it."""

from __future__ import annotations

from collections.abc import Iterator
from email.utils import formatdate, make_msgid

import pytest

from tests.integration.bounces.dovecot import Dovecot, MailUser


@pytest.fixture(scope="session")
def dovecot() -> Iterator[Dovecot]:
    server = Dovecot()
    yield server
    server.stop()


DSN = """\
From: Mail Delivery System <MAILER-DAEMON@mx.example.net>
To: {envelope_to}
Subject: Undelivered Mail Returned to Sender
Date: {date}
Message-ID: {report_id}
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="b2-report"

--b2-report
Content-Type: text/plain; charset=us-ascii

This is the mail system at host mx.example.net.

I'm sorry to have to inform you that your message could not
be delivered to one or more recipients.

<{recipient}>: host mail.example.org said: {diagnostic}

--b2-report
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.net
Arrival-Date: {date}

Final-Recipient: rfc822; {recipient}
Original-Recipient: rfc822;{recipient}
Action: failed
Status: {status}
Remote-MTA: dns; mail.example.org
Diagnostic-Code: smtp; {diagnostic}

--b2-report
Content-Type: text/rfc822-headers

From: News <news@news.example.com>
To: {recipient}
Subject: Our news
Message-ID: {original_message_id}

--b2-report--
"""


def dsn(recipient: str, *, status: str = "5.1.1", original_message_id: str = "<unknown@news.example.com>",
        envelope_to: str = "bounces@news.example.com",
        diagnostic: str = "550 5.1.1 <{recipient}>: Recipient address rejected: User unknown") -> bytes:
    """A delivery status notification (RFC 3464) as Postfix sends it back for one recipient, CRLF line ends."""
    text = DSN.format(recipient=recipient, status=status, original_message_id=original_message_id,
                      envelope_to=envelope_to, date=formatdate(), report_id=make_msgid(domain="mx.example.net"),
                      diagnostic=diagnostic.format(recipient=recipient))
    return text.replace("\n", "\r\n").encode()


def mailbox_form(dovecot: Dovecot, user: MailUser, **overrides: object) -> dict[str, object]:
    """The Add mailbox form filled in for this Dovecot user (IMAP, no TLS on loopback, delete when done)."""
    return {"name": f"Bounces {user.username}", "kind": "bounce", "protocol": "imap", "host": dovecot.host,
            "port": str(dovecot.imap_port), "security": "none", "username": user.username,
            "password": user.password, "folder": "INBOX", "after": "delete", "move_to": "", "poll_seconds": "60",
            "enabled": "on", **overrides}
