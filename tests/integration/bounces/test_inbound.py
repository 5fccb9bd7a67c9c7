"""The inbound MX over real SMTP: bounces to VERP and return-path addresses stored and acted on, mailto
unsubscribes honoured, every other address refused, failures answered 451 so the sender keeps the mail."""

from __future__ import annotations

from collections.abc import AsyncIterator
from urllib.parse import unquote, urlsplit

import aiosmtplib
import pytest

from app.db.audience import SubscriberStatusChange
from app.db.bounce_mailboxes import BounceMailbox
from app.embedded import free_port
from app.redis_client import get_redis
from app.services.bounces import inbound, intake, processing
from app.services.bounces.return_paths import verp_address
from app.services.campaigns.content import CampaignUrls
from app.services.tracking.tokens import tracking_keys
from app.services.tracking.urls import DeliveryTracker
from app.settings import get_settings
from tests.factories import make_verified_domain, make_workspace
from tests.integration.bounces.helpers_processing import dsn, sent_delivery

HOST = "127.0.0.1"


class Receiver:
    def __init__(self, port: int) -> None:
        self.port = port
        self.queued: list[int] = []

    async def send(self, message: bytes, to: str, sender: str = "") -> None:
        """One SMTP transaction; a bounce has the null sender (MAIL FROM:<>), as MTAs send them."""
        async with aiosmtplib.SMTP(hostname=HOST, port=self.port, timeout=10, start_tls=False) as client:
            await client.mail(sender)
            await client.rcpt(to)
            await client.data(message)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    found = Receiver(free_port())
    server = await inbound.start_receiver(get_settings(), get_redis(), found.queued.extend, host=HOST,
                                          port=found.port)
    yield found
    server.close()
    await server.wait_closed()


async def _reports() -> list[dict]:
    return await BounceMailbox.raw("SELECT id, workspace_id, source, raw FROM bounce_reports ORDER BY id")


async def _status(subscriber_id: int) -> str:
    [row] = await BounceMailbox.raw("SELECT status FROM subscribers WHERE id = {}", subscriber_id)
    return row["status"]


async def test_a_dsn_sent_to_a_verp_address_marks_the_subscriber_bounced(receiver):
    workspace = await make_workspace()
    delivery = await sent_delivery(workspace, "gone@example.org")
    address = verp_address(get_settings(), workspace["id"], delivery["id"], "bounces.news.example.com")

    await receiver.send(dsn("gone@example.org"), address)

    [report] = await _reports()
    assert (report["workspace_id"], report["source"]) == (workspace["id"], "mx")
    assert bytes(report["raw"]).startswith(f"Delivered-To: {address}\r\n".encode())
    assert receiver.queued == [report["id"]]
    await processing.process_reports(get_redis(), receiver.queued)  # what the bounces worker does
    assert await _status(delivery["subscriber_id"]) == "bounced"


async def test_any_address_at_a_return_path_domain_is_taken_for_its_workspace(receiver):
    workspace = await make_workspace()
    # Its campaign is sent from the verified domain news.example.com, whose return path is bounces.news.example.com.
    delivery = await sent_delivery(workspace, "gone@example.org")

    await receiver.send(dsn("gone@example.org", delivery_id=delivery["id"]), "fbl@bounces.news.example.com")

    [report] = await _reports()
    assert report["workspace_id"] == workspace["id"]
    await processing.process_reports(get_redis(), receiver.queued)
    assert await _status(delivery["subscriber_id"]) == "bounced"


@pytest.mark.parametrize("address", [
    "someone@elsewhere.example", "bounces+aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@elsewhere.example",
    "unsubscribe@news.example.com",
])
async def test_mail_for_other_domains_forged_return_paths_and_sending_domains_is_refused_at_rcpt(receiver, address):
    workspace = await make_workspace()
    await make_verified_domain(workspace["id"], "news.example.com")

    with pytest.raises(aiosmtplib.SMTPRecipientRefused) as refused:
        await receiver.send(dsn("gone@example.org"), address)

    assert refused.value.code == 550
    assert await _reports() == []


async def test_the_same_report_delivered_twice_is_stored_once(receiver):
    workspace = await make_workspace()
    delivery = await sent_delivery(workspace, "gone@example.org")
    address = verp_address(get_settings(), workspace["id"], delivery["id"], "bounces.news.example.com")
    report = dsn("gone@example.org")

    await receiver.send(report, address)
    await receiver.send(report, address)

    assert len(await _reports()) == 1 and len(receiver.queued) == 1


async def test_a_failure_before_the_report_is_stored_answers_451_so_the_sender_keeps_it(receiver, monkeypatch):
    workspace = await make_workspace()
    delivery = await sent_delivery(workspace, "gone@example.org")
    address = verp_address(get_settings(), workspace["id"], delivery["id"], "bounces.news.example.com")

    async def database_gone(incoming: intake.Incoming) -> int | None:
        raise ConnectionError("the database went away")

    monkeypatch.setattr(intake, "accept", database_gone)
    with pytest.raises(aiosmtplib.SMTPDataError) as deferred:
        await receiver.send(dsn("gone@example.org"), address)

    assert deferred.value.code == 451
    assert await _reports() == [] and receiver.queued == []


def _mailto(workspace_id: int, delivery: dict) -> tuple[str, str]:
    """The address and subject of the List-Unsubscribe mailto the renderer puts in this delivery's message."""
    tracker = DeliveryTracker(get_settings().base_url, tracking_keys(get_settings()), workspace_id,
                              delivery["campaign_id"], 1)
    link = urlsplit(CampaignUrls(tracker, "news.example.com").unsubscribe_mailto(str(delivery["id"])))
    return link.path, unquote(link.query.removeprefix("subject="))


def _request(subject: str) -> bytes:
    return (f"From: gone@example.org\r\nTo: unsubscribe@bounces.news.example.com\r\nSubject: {subject}\r\n\r\n"
            "Sent by my mail app.\r\n").encode()


async def test_the_list_unsubscribe_mailto_unsubscribes_the_recipient(receiver):
    workspace = await make_workspace()
    delivery = await sent_delivery(workspace, "reader@example.org")
    address, subject = _mailto(workspace["id"], delivery)
    assert address == "unsubscribe@bounces.news.example.com"
    assert str(delivery["id"]) not in subject.split()  # the signed token, not the bare id

    await receiver.send(_request(subject), address, sender="reader@example.org")

    assert await _status(delivery["subscriber_id"]) == "unsubscribed"
    assert await _reports() == []
    [change] = await SubscriberStatusChange.select(SubscriberStatusChange.source).where(
        SubscriberStatusChange.subscriber_id == delivery["subscriber_id"])
    assert change["source"] == "list-unsubscribe-mailto"


async def test_a_mailto_unsubscribe_with_a_forged_token_changes_nothing(receiver):
    workspace = await make_workspace()
    delivery = await sent_delivery(workspace, "reader@example.org")
    _, subject = _mailto(workspace["id"], delivery)
    forged = subject[:-3] + ("AAA" if not subject.endswith("AAA") else "BBB")

    await receiver.send(_request(forged), "unsubscribe@bounces.news.example.com")
    await receiver.send(_request(f"unsubscribe {delivery['id']}"), "unsubscribe@bounces.news.example.com")

    assert await _status(delivery["subscriber_id"]) == "confirmed"
