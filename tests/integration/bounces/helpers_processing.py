"""Processing tests: a delivery that was sent, and bounce reports about it in the shapes MTAs send."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import format_datetime

from app.services.rendering.mime import message_id
from app.services.sqlparams import fetch_positional
from tests.factories import make_list, make_subscriber
from tests.integration.campaigns.helpers import ready_campaign

SERVER_ID = 7
GROUP = "Gmail"


async def sent_delivery(workspace: dict, email: str, lists: int = 1, server_id: int = SERVER_ID,
                        group: str = GROUP) -> dict:
    """A delivery of the workspace's campaign (made by the first call) to `email`, subscribed to `lists` lists,
    sent by `server_id` to `group`."""
    subscribers = [await make_subscriber(await make_list(workspace), email) for _ in range(lists)]
    found = await fetch_positional("SELECT id FROM campaigns WHERE workspace_id = $1 LIMIT 1", [workspace["id"]])
    campaign = found[0] if found else await ready_campaign(workspace["id"], [subscribers[0]["list_id"]])
    [delivery] = await fetch_positional(
        "INSERT INTO deliveries (workspace_id, campaign_id, subscriber_id, email, domain, status, server_id, "
        "domain_group, sent_at) VALUES ($1, $2, $3, $4, $5, 'sent', $6, $7, now()) RETURNING *",
        [workspace["id"], campaign["id"], subscribers[0]["id"], email, email.split("@")[1], server_id, group])
    return delivery


def dsn(recipient: str, status: str = "5.1.1", diagnostic: str = "550 5.1.1 <{r}>: Recipient address rejected: "
        "User unknown in virtual mailbox table", delivery_id: int | None = None, action: str = "failed") -> bytes:
    """A Postfix delivery status notification (RFC 3464) about one recipient."""
    original = f"Message-ID: {message_id(delivery_id, 'news.example.com')}\n" if delivery_id else ""
    return f"""Return-Path: <>
From: MAILER-DAEMON@mx.example.net (Mail Delivery System)
To: bounces@news.example.com
Subject: Undelivered Mail Returned to Sender
Date: {format_datetime(datetime.now(UTC))}
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="B"

--B
Content-Type: text/plain

I'm sorry to have to inform you that your message could not be delivered.

--B
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.net

Final-Recipient: rfc822; {recipient}
Original-Recipient: rfc822; {recipient}
Action: {action}
Status: {status}
Remote-MTA: dns; mail.example.org
Diagnostic-Code: smtp; {diagnostic.format(r=recipient)}

--B
Content-Type: text/rfc822-headers

{original}From: offers@news.example.com
To: {recipient}
Subject: Spring offer

--B--
""".replace("\n", "\r\n").encode()


def arf(recipient: str, delivery_id: int | None = None) -> bytes:
    """An abuse report (RFC 5965) as Yahoo sends them."""
    original = f"Message-ID: {message_id(delivery_id, 'news.example.com')}\n" if delivery_id else ""
    return f"""From: feedback@arf.mail.yahoo.com
To: fbl@news.example.com
Subject: FW: Spring offer
MIME-Version: 1.0
Content-Type: multipart/report; report-type=feedback-report; boundary="A"

--A
Content-Type: text/plain

This is an email abuse report for an email message received from IP 192.0.2.1.

--A
Content-Type: message/feedback-report

Feedback-Type: abuse
User-Agent: Yahoo!-Mail-Feedback/2.0
Version: 1
Original-Rcpt-To: {recipient}
Source-IP: 192.0.2.1

--A
Content-Type: message/rfc822

{original}From: offers@news.example.com
To: {recipient}
Subject: Spring offer

Hello
--A--
""".replace("\n", "\r\n").encode()


def autoreply(recipient: str) -> bytes:
    return f"""From: {recipient}
To: offers@news.example.com
Subject: Out of office: Spring offer
Auto-Submitted: auto-replied
Content-Type: text/plain

I am away until Monday.
""".replace("\n", "\r\n").encode()


async def bounces_of(workspace_id: int) -> list[dict]:
    return await fetch_positional("SELECT * FROM bounces WHERE workspace_id = $1 ORDER BY id", [workspace_id])


async def statuses(workspace_id: int, email: str) -> list[str]:
    rows = await fetch_positional("SELECT status FROM subscribers WHERE workspace_id = $1 AND email = $2 ORDER BY id",
                                  [workspace_id, email])
    return [row["status"] for row in rows]


async def blacklisted(workspace_id: int) -> list[str]:
    rows = await fetch_positional(
        "SELECT e.value FROM suppression_entries e JOIN suppression_lists l ON l.id = e.suppression_list_id "
        "WHERE l.workspace_id = $1 AND l.is_blacklist ORDER BY e.value", [workspace_id])
    return [row["value"] for row in rows]


async def counters(workspace_id: int) -> dict[str, int]:
    rows = await fetch_positional(
        "SELECT coalesce(sum(hard), 0) AS hard, coalesce(sum(soft), 0) AS soft, coalesce(sum(block), 0) AS block, "
        "coalesce(sum(complaint), 0) AS complaint FROM feedback_counts WHERE workspace_id = $1", [workspace_id])
    return {key: int(value) for key, value in rows[0].items()}
