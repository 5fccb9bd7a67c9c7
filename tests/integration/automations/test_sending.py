"""Flow emails: written once per enrolment and visit to the step's own campaign, sent through the campaign send
path to a real SMTP server, merged and tracked."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from html import unescape
from urllib.parse import urlsplit

import pytest

from app.db.campaigns import Campaign, Delivery
from app.piccolo_conf import DB
from app.services import campaigns, kill_switch
from app.services.accounts import now
from app.services.automations import sending
from app.services.tracking.figures import campaign_figures
from tests.factories import make_list, make_subscriber, make_workspace
from tests.integration.automations.send_helpers import flow_with_send_step, local_sending
from tests.integration.campaigns.helpers import PERSON, smtp_server
from tests.integration.campaigns.recorder import RecordingHandler, RecordingServer
from tests.integration.tracking.helpers import drain_all
from tests.integration.transactional.helpers import HREF, PIXEL, html_of, parsed


def _path(url: str) -> str:
    parts = urlsplit(unescape(url))
    return parts.path + (f"?{parts.query}" if parts.query else "")


async def test_a_flow_email_reaches_the_smtp_server_merged_tracked_and_counted_on_the_step_campaign(client) -> None:
    workspace = await make_workspace()
    people = await make_list(workspace)
    ada = await make_subscriber(people, "ada@example.com", {"first_name": "Ada"})
    flow_id, step = await flow_with_send_step(workspace["id"])
    with RecordingServer(RecordingHandler(keep_bodies=True)) as smtp:
        await smtp_server(workspace["id"], smtp.port)
        async with local_sending() as local:
            answers = await sending.send_step(workspace["id"], flow_id, 1, step, [(501, ada["id"], 0)], now=now())
            assert await local.drain() == 1
        [raw] = smtp.handler.bodies.values()
    outcome, delivery_id = answers[501]
    assert outcome == "sent" and smtp.handler.recipients == ["ada@example.com"]
    message = parsed(raw)
    assert message["Subject"] == "Welcome Ada" and message["List-Unsubscribe"]
    html = html_of(message)
    assert "Hello Ada, this is for ada@example.com." in html
    [offer] = [link for link in HREF.findall(html) if "/c/" in link]
    delivery = await Delivery.select().where(Delivery.id == delivery_id).first()
    assert delivery["status"] == "sent" and delivery["subscriber_id"] == ada["id"]
    campaign_id = (await sending.step_campaigns(workspace["id"], flow_id))[(1, "s1")]
    assert delivery["campaign_id"] == campaign_id
    # The step's campaign is hidden from campaign pages, and stays open for the next person.
    assert campaign_id not in [row["id"] for row in await campaigns.campaigns_page(workspace["id"])]
    with pytest.raises(LookupError):
        await campaigns.get_campaign(workspace["id"], campaign_id)
    row = await Campaign.select(Campaign.kind, Campaign.status).where(Campaign.id == campaign_id).first()
    assert row == {"kind": "flow", "status": "sending"}
    # Ada opens it and follows the offer: the step's campaign counts both.
    await Delivery.update({Delivery.sent_at: datetime.now(UTC) - timedelta(minutes=10)}).where(
        Delivery.id == delivery_id)
    assert (await client.get(_path(PIXEL.search(html).group(1)))).status_code == 200
    clicked = await client.get(_path(offer))
    assert clicked.status_code in (302, 303, 307)
    assert clicked.headers["location"].startswith("https://shop.example.com/offer")
    assert await drain_all(local.redis) == 2
    figures = await campaign_figures(local.redis, workspace["id"], campaign_id)
    assert (figures["opens"], figures["clicks"]) == (1, 1)


async def test_a_send_step_run_again_or_twice_at_once_writes_and_sends_each_enrolment_once() -> None:
    workspace = await make_workspace()
    people = await make_list(workspace)
    ada = await make_subscriber(people, "ada@example.com")
    bob = await make_subscriber(people, "bob@example.com")
    flow_id, step = await flow_with_send_step(workspace["id"])
    enrolments = [(601, ada["id"], 0), (602, bob["id"], 0)]
    with RecordingServer() as smtp:
        await smtp_server(workspace["id"], smtp.port)
        async with local_sending() as local:
            first, second = await asyncio.gather(
                sending.send_step(workspace["id"], flow_id, 1, step, enrolments, now=now()),
                sending.send_step(workspace["id"], flow_id, 1, step, enrolments, now=now()))
            again = await sending.send_step(workspace["id"], flow_id, 1, step, enrolments, now=now())
            await local.drain()
        received = smtp.handler.counts()
    assert first == second == again
    assert {outcome for outcome, _ in first.values()} == {"sent"}
    campaign_id = (await sending.step_campaigns(workspace["id"], flow_id))[(1, "s1")]
    rows = await Delivery.select(Delivery.id, Delivery.status).where(Delivery.campaign_id == campaign_id)
    assert sorted(row["id"] for row in rows) == sorted(delivery_id for _, delivery_id in first.values())
    assert {row["status"] for row in rows} == {"sent"}
    assert sorted(received.values()) == [1, 1]


async def test_a_person_enrolled_again_gets_the_step_again_and_a_later_visit_is_a_new_email() -> None:
    workspace = await make_workspace()
    people = await make_list(workspace)
    ada = await make_subscriber(people, "ada@example.com")
    flow_id, step = await flow_with_send_step(workspace["id"])
    with RecordingServer() as smtp:
        await smtp_server(workspace["id"], smtp.port)
        async with local_sending() as local:
            sent = [await sending.send_step(workspace["id"], flow_id, 1, step, [(enrolment, ada["id"], visit)],
                                            now=now()) for enrolment, visit in ((701, 0), (701, 1), (702, 0))]
            await local.drain()
        assert smtp.handler.recipients == ["ada@example.com"] * 3
    assert len({answer[enrolment][1] for answer, enrolment in zip(sent, (701, 701, 702), strict=True)}) == 3


async def test_people_who_may_not_be_mailed_are_skipped_and_nothing_is_written() -> None:
    workspace = await make_workspace()
    people = await make_list(workspace)
    gone = await make_subscriber(people, "gone@example.com", status="unsubscribed")
    flow_id, step = await flow_with_send_step(workspace["id"])
    async with local_sending() as local:
        answers = await sending.send_step(workspace["id"], flow_id, 1, step, [(801, gone["id"], 0)], now=now())
    assert answers == {801: ("skipped", sending.NOT_MAILABLE)}
    assert await sending.step_campaigns(workspace["id"], flow_id) == {}
    assert local.queue.batches == []


async def test_a_step_whose_template_was_removed_is_skipped() -> None:
    workspace = await make_workspace()
    people = await make_list(workspace)
    ada = await make_subscriber(people, "ada@example.com")
    flow_id, step = await flow_with_send_step(workspace["id"], template_id=2_000_000_000)
    answers = await sending.send_step(workspace["id"], flow_id, 1, step, [(811, ada["id"], 0)], now=now())
    assert answers == {811: ("skipped", sending.NO_TEMPLATE)}


async def test_variants_share_the_enrolments_by_weight_and_each_sends_its_own_subject() -> None:
    workspace = await make_workspace()
    people = await make_list(workspace)
    rows = [await make_subscriber(people, f"p{i}@example.com") for i in range(40)]
    flow_id, step = await flow_with_send_step(workspace["id"])
    template_id = step["params"]["template_id"]
    step["params"]["variants"] = [{"template_id": template_id, "subject": "Subject A", "weight": 1},
                                  {"template_id": template_id, "subject": "Subject B", "weight": 3}]
    with RecordingServer(RecordingHandler(keep_bodies=True)) as smtp:
        await smtp_server(workspace["id"], smtp.port)
        async with local_sending() as local:
            await sending.send_step(workspace["id"], flow_id, 1, step,
                                    [(900 + i, row["id"], 0) for i, row in enumerate(rows)], now=now())
            await local.drain()
        subjects = [parsed(raw)["Subject"] for raw in smtp.handler.bodies.values()]
    assert set(subjects) == {"Subject A", "Subject B"}
    assert subjects.count("Subject B") > subjects.count("Subject A")


async def test_rows_written_in_the_engines_transaction_are_queued_after_it_and_sent_once() -> None:
    workspace = await make_workspace()
    people = await make_list(workspace)
    ada = await make_subscriber(people, "ada@example.com")
    flow_id, step = await flow_with_send_step(workspace["id"])
    with RecordingServer() as smtp:
        await smtp_server(workspace["id"], smtp.port)
        async with local_sending() as local:
            async with DB.transaction():
                answers = await sending.send_step(workspace["id"], flow_id, 1, step, [(1, ada["id"], 0)],
                                                  now=now())
            assert sorted(batch[4] for batch in local.queue.batches) == list(sending.AFTER_COMMIT_SECONDS)
            await local.queue.drain(local.redis, local.adapters, include_delayed=True)
        assert smtp.handler.recipients == ["ada@example.com"]
    delivery = await Delivery.select(Delivery.status).where(Delivery.id == answers[1][1]).first()
    assert delivery["status"] == "sent"


async def test_the_workspaces_stop_holds_flow_emails_until_sending_restarts() -> None:
    workspace = await make_workspace()
    people = await make_list(workspace)
    ada = await make_subscriber(people, "ada@example.com")
    flow_id, step = await flow_with_send_step(workspace["id"])
    with RecordingServer() as smtp:
        await smtp_server(workspace["id"], smtp.port)
        async with local_sending() as local:
            await kill_switch.stop_workspace(local.redis, workspace["id"], PERSON, "checking a complaint")
            answers = await sending.send_step(workspace["id"], flow_id, 1, step, [(1, ada["id"], 0)], now=now())
            await local.drain()
            assert smtp.handler.received == 0
            await kill_switch.restart_workspace(local.redis, workspace["id"], PERSON, local.queue)
            await local.drain()
        assert smtp.handler.recipients == ["ada@example.com"]
    delivery = await Delivery.select(Delivery.status).where(Delivery.id == answers[1][1]).first()
    assert delivery["status"] == "sent"


async def test_the_reaper_queues_flow_emails_whose_queue_message_was_lost_and_never_finishes_the_step() -> None:
    workspace = await make_workspace()
    people = await make_list(workspace)
    ada = await make_subscriber(people, "ada@example.com")
    flow_id, step = await flow_with_send_step(workspace["id"])
    with RecordingServer() as smtp:
        await smtp_server(workspace["id"], smtp.port)
        async with local_sending() as local:
            await sending.send_step(workspace["id"], flow_id, 1, step, [(1, ada["id"], 0)], now=now())
            local.queue.batches.clear()  # the queue lost its message (a Redis restart)
            await campaigns.reap(local.redis, local.queue)
            await local.drain()
            reaped = await campaigns.reap(local.redis, local.queue)
        assert smtp.handler.recipients == ["ada@example.com"]
    campaign_id = (await sending.step_campaigns(workspace["id"], flow_id))[(1, "s1")]
    assert campaign_id not in reaped.finished
    row = await Campaign.select(Campaign.status, Campaign.sent_count).where(Campaign.id == campaign_id).first()
    assert row == {"status": "sending", "sent_count": 1}
