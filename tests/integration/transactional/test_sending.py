"""Sending: through the campaigns' send path to a real SMTP server, tracked, evented, scheduled and cancelled."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from html import unescape
from urllib.parse import urlsplit

from app.db.campaigns import Delivery
from app.db.transactional import TransactionalMessage
from app.services import campaigns, suppression, transactional
from app.services.suppression import Entry
from tests.integration.campaigns.helpers import smtp_server
from tests.integration.campaigns.recorder import RecordingHandler, RecordingServer
from tests.integration.tracking.helpers import drain_all
from tests.integration.transactional.helpers import HREF, PIXEL, html_of, parsed, raw_message, sender


def _path(url: str) -> str:
    parts = urlsplit(unescape(url))
    return parts.path + (f"?{parts.query}" if parts.query else "")


async def _kinds(client, headers, message_id: int) -> list[str]:
    answer = await client.get(f"/api/v1/messages/{message_id}/events", headers=headers)
    assert answer.status_code == 200
    return [event["kind"] for event in answer.json()]


async def test_a_message_reaches_the_smtp_server_merged_tracked_and_with_its_attachment(
        client, queue, redis, adapters) -> None:
    caller = await sender()
    with RecordingServer(RecordingHandler(keep_bodies=True)) as smtp:
        await smtp_server(caller.workspace["id"], smtp.port)
        answer = await client.post("/api/v1/messages", headers=caller.headers, json=raw_message(
            "ann@example.com", data={"name": "Ann", "order": "A-7"}, reply_to="help@example.com",
            headers={"X-Order": "A-7"},
            attachments=[{"filename": "receipt.txt", "content": base64.b64encode(b"paid").decode(),
                          "content_type": "text/plain"}]))
        assert answer.status_code == 202, answer.text
        message_id = answer.json()["id"]
        assert await queue.drain(redis, adapters) == 1
        assert smtp.handler.recipients == ["ann@example.com"]
        [raw] = smtp.handler.bodies.values()
    message = parsed(raw)
    assert message["Subject"] == "Your order A-7"
    assert message["From"] == "receipts@mail.example.com" and message["Reply-To"] == "help@example.com"
    assert message["X-Order"] == "A-7" and message["List-Unsubscribe"]
    assert message["Message-ID"] == f"<{message_id}@mail.example.com>"
    [attached] = list(message.iter_attachments())
    assert (attached.get_filename(), attached.get_content()) == ("receipt.txt", "paid")
    html = html_of(message)
    assert "Hello Ann, order A-7 is on its way." in html
    links = [link for link in HREF.findall(html) if "/c/" in link]
    assert len(links) == 2 and all("shop.example.com" not in urlsplit(unescape(link)).netloc for link in links)
    read = (await client.get(f"/api/v1/messages/{message_id}", headers=caller.headers)).json()
    assert read["status"] == "sent" and read["server"] == "Recorder" and read["sent_at"] is not None
    # The recipient opens the message a while later and follows the order link: both come back as its events.
    await Delivery.update({Delivery.sent_at: datetime.now(UTC) - timedelta(minutes=10)}).where(
        Delivery.id == message_id)
    await TransactionalMessage.update({TransactionalMessage.created_at: datetime.now(UTC) - timedelta(minutes=11)})\
        .where(TransactionalMessage.id == message_id)
    assert (await client.get(_path(PIXEL.search(html).group(1)))).status_code == 200
    clicked = await client.get(_path(links[0]))
    assert clicked.status_code in (302, 303, 307)
    assert clicked.headers["location"].startswith("https://shop.example.com/orders/A-7")
    assert await drain_all(redis) == 2
    assert await _kinds(client, caller.headers, message_id) == ["queued", "sent", "opened", "clicked"]
    read = (await client.get(f"/api/v1/messages/{message_id}", headers=caller.headers)).json()
    assert (read["opens"], read["clicks"]) == (1, 1)


async def test_a_recipient_suppressed_after_acceptance_is_not_sent(client, queue, redis, adapters) -> None:
    caller = await sender()
    with RecordingServer() as smtp:
        await smtp_server(caller.workspace["id"], smtp.port)
        answer = await client.post("/api/v1/messages", headers=caller.headers, json=raw_message("ann@example.com"))
        workspace_id = caller.workspace["id"]
        await suppression.add_entries(workspace_id, (await suppression.blacklist(workspace_id))["id"],
                                      [Entry("email", "ann@example.com")])
        await queue.drain(redis, adapters)
        assert smtp.handler.received == 0
    read = (await client.get(f"/api/v1/messages/{answer.json()['id']}", headers=caller.headers)).json()
    assert read["status"] == "cancelled" and "blacklist" in read["last_answer"]


async def test_a_refusal_by_the_server_fails_the_message_and_is_recorded_as_a_bounce(
        client, queue, redis, adapters) -> None:
    caller = await sender()
    handler = RecordingHandler(refusal="550 5.1.1 <ann@example.com>: Recipient address rejected: User unknown",
                               refuse_left=1)
    with RecordingServer(handler) as smtp:
        await smtp_server(caller.workspace["id"], smtp.port)
        answer = await client.post("/api/v1/messages", headers=caller.headers, json=raw_message("ann@example.com"))
        await queue.drain(redis, adapters)
    message_id = answer.json()["id"]
    read = (await client.get(f"/api/v1/messages/{message_id}", headers=caller.headers)).json()
    assert read["status"] == "bounced"
    assert await _kinds(client, caller.headers, message_id) == ["queued", "failed", "bounced"]
    # A hard bounce suppresses the address: the next message to it is refused at the door.
    again = await client.post("/api/v1/messages", headers=caller.headers, json=raw_message("ann@example.com"))
    assert again.json()["error"]["code"] == "recipient_suppressed"


async def test_a_scheduled_message_waits_and_can_be_cancelled_until_it_is_sent(
        client, queue, redis, adapters) -> None:
    caller = await sender()
    later = (datetime.now(UTC) + timedelta(days=2)).isoformat()
    with RecordingServer() as smtp:
        await smtp_server(caller.workspace["id"], smtp.port)
        kept = await client.post("/api/v1/messages", headers=caller.headers,
                                 json=raw_message("ann@example.com", scheduled_at=later))
        dropped = await client.post("/api/v1/messages", headers=caller.headers,
                                    json=raw_message("bob@example.com", scheduled_at=later))
        assert kept.json()["status"] == dropped.json()["status"] == "scheduled"
        # Two days ahead: left to the minute sweep, not queued with a delay.
        assert queue.ranges == []
        assert await transactional.queue_due(queue) == 0
        cancelled = await client.delete(f"/api/v1/messages/{dropped.json()['id']}", headers=caller.headers)
        assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
        again = await client.delete(f"/api/v1/messages/{dropped.json()['id']}", headers=caller.headers)
        assert again.status_code == 409 and again.json()["error"]["code"] == "not_cancellable"
        # Its time comes: the sweep queues it, and only the one still scheduled is sent.
        await Delivery.update({Delivery.next_attempt_at: datetime.now(UTC) - timedelta(seconds=1)}).where(
            Delivery.transactional.eq(True))
        assert await transactional.queue_due(queue) == 1
        assert await queue.drain(redis, adapters) == 1
        assert smtp.handler.recipients == ["ann@example.com"]
    sent = await client.delete(f"/api/v1/messages/{kept.json()['id']}", headers=caller.headers)
    assert sent.status_code == 409
    listed = await client.get("/api/v1/messages?status=cancelled", headers=caller.headers)
    assert [row["email"] for row in listed.json()["data"]] == ["bob@example.com"]


async def test_the_list_filters_and_pages_by_cursor(client, queue) -> None:
    caller = await sender()
    for index in range(5):
        await client.post("/api/v1/messages", headers=caller.headers, json=raw_message(
            f"p{index}@example.com", tags=["even" if index % 2 == 0 else "odd"]))
    first = (await client.get("/api/v1/messages?limit=2", headers=caller.headers)).json()
    assert [row["email"] for row in first["data"]] == ["p4@example.com", "p3@example.com"]
    rest = (await client.get(f"/api/v1/messages?limit=5&cursor={first['next_cursor']}",
                             headers=caller.headers)).json()
    assert [row["email"] for row in rest["data"]] == ["p2@example.com", "p1@example.com", "p0@example.com"]
    assert rest["next_cursor"] is None
    even = (await client.get("/api/v1/messages?tag=even", headers=caller.headers)).json()
    assert {row["email"] for row in even["data"]} == {"p0@example.com", "p2@example.com", "p4@example.com"}
    one = (await client.get("/api/v1/messages?email=P3@example.com", headers=caller.headers)).json()
    assert [row["email"] for row in one["data"]] == ["p3@example.com"]
    assert (await client.get("/api/v1/messages?status=lost", headers=caller.headers)).status_code == 400
    other = await sender()
    assert (await client.get("/api/v1/messages", headers=other.headers)).json()["data"] == []


async def test_a_message_whose_worker_died_is_queued_again_and_sent_once(client, queue, redis, adapters) -> None:
    caller = await sender()
    with RecordingServer() as smtp:
        await smtp_server(caller.workspace["id"], smtp.port)
        answer = await client.post("/api/v1/messages", headers=caller.headers, json=raw_message("ann@example.com"))
        queue.ranges.clear()  # the queue entry is lost with the worker that took it
        # The worker claimed it and died: its lease runs out (moved, not waited for).
        await Delivery.update({Delivery.status: "claimed", Delivery.lease_until: datetime.now(UTC) - timedelta(
            seconds=1), Delivery.next_attempt_at: datetime.now(UTC) - timedelta(minutes=5)}).where(
            Delivery.id == answer.json()["id"])
        assert await transactional.queue_due(queue) == 0
        await campaigns.reap(redis, queue)
        assert await transactional.queue_due(queue) == 1
        assert await queue.drain(redis, adapters) == 1
        assert await transactional.queue_due(queue) == 0
        assert smtp.handler.recipients == ["ann@example.com"]


async def test_the_workspace_stop_holds_messages_until_sending_restarts(client, queue, redis, adapters) -> None:
    from app.services import kill_switch
    from tests.integration.campaigns.helpers import PERSON

    caller = await sender()
    with RecordingServer() as smtp:
        await smtp_server(caller.workspace["id"], smtp.port)
        await kill_switch.stop_workspace(redis, caller.workspace["id"], PERSON, "checking a complaint spike")
        answer = await client.post("/api/v1/messages", headers=caller.headers, json=raw_message("ann@example.com"))
        assert await queue.drain(redis, adapters) == 0
        assert smtp.handler.received == 0
        assert [delay for *_, delay in queue.ranges] == [kill_switch.HELD_RETRY_SECONDS]
        await kill_switch.restart_workspace(redis, caller.workspace["id"], PERSON)
        assert await queue.drain(redis, adapters, include_delayed=True) == 1
        assert smtp.handler.recipients == ["ann@example.com"]
    read = (await client.get(f"/api/v1/messages/{answer.json()['id']}", headers=caller.headers)).json()
    assert read["status"] == "sent"
