"""The engine in the test process: audience, materialising, batches, lifecycle, retries, schedules, the reaper.

The test drains the queue itself (see `LocalQueue`); "time moves forward" by moving a row's time back.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from app.db.campaigns import Campaign, Delivery
from app.services import campaigns, statements
from app.services.accounts import now
from app.services.campaigns import counters
from app.services.campaigns.batches import Written
from app.services.segments import save_segment
from app.services.subscribers import SubscriberFilter, change_status
from app.services.suppression import add_pasted, blacklist
from app.services.suppression import create_list as create_suppression_list
from app.services.templates import checked_template, save_template
from tests.factories import make_list, make_subscribers, make_workspace
from tests.integration.campaigns.helpers import PERSON, ready_campaign, smtp_server
from tests.integration.campaigns.recorder import RecordingHandler, RecordingServer


async def _deliveries(campaign_id: int) -> list[dict]:
    return await Delivery.select().where(Delivery.campaign_id == campaign_id).order_by(Delivery.id)


async def _by_email(campaign_id: int) -> dict[str, dict]:
    return {row["email"]: row for row in await _deliveries(campaign_id)}


async def _launched(redis, queue, workspace: dict, lists: list[dict], **values) -> dict:
    campaign = await ready_campaign(workspace["id"], [row["id"] for row in lists], **values)
    return await campaigns.launch(redis, queue, workspace["id"], campaign["id"], PERSON)


async def _move_retries_forward(campaign_id: int) -> None:
    await Delivery.update({Delivery.next_attempt_at: now() - timedelta(seconds=1)}).where(
        Delivery.campaign_id == campaign_id, Delivery.status == "deferred")


async def test_a_person_on_two_lists_gets_one_message(redis, queue, adapters):
    workspace = await make_workspace()
    first, second = await make_list(workspace), await make_list(workspace)
    await make_subscribers(first, 30)
    await make_subscribers(second, 20)  # sub1..sub20 are on both lists
    await make_subscribers(second, 5, prefix="only")
    with RecordingServer() as smtp:
        await smtp_server(workspace["id"], smtp.port)
        campaign = await ready_campaign(workspace["id"], [first["id"], second["id"]])
        assert await campaigns.recipient_count(workspace["id"], campaigns.Audience.of(campaign)) == 35
        await campaigns.launch(redis, queue, workspace["id"], campaign["id"], PERSON)
        await queue.drain(redis, adapters)
        received = smtp.handler.counts()
    rows = await _deliveries(campaign["id"])
    assert len(rows) == 35 and {row["status"] for row in rows} == {"sent"}
    assert len(received) == 35 and set(received.values()) == {1}
    assert sorted(smtp.handler.recipients) == sorted(row["email"] for row in rows)
    assert set(received) == {f"<{row['id']}@news.example.com>" for row in rows}
    finished = await campaigns.get_campaign(workspace["id"], campaign["id"])
    assert finished["status"] == "sent"
    assert (finished["recipient_count"], finished["sent_count"]) == (35, 35)


async def test_a_workspace_without_delivery_servers_sends_into_the_development_inbox(redis, queue, adapters):
    from app.db.inbox import CapturedMessage

    workspace = await make_workspace()
    mailing_list = await make_list(workspace)
    await make_subscribers(mailing_list, 3)
    campaign = await _launched(redis, queue, workspace, [mailing_list])
    await queue.drain(redis, adapters)
    captured = await CapturedMessage.select(CapturedMessage.message_id).where(
        CapturedMessage.workspace_id == workspace["id"])
    assert sorted(row["message_id"] for row in captured) == sorted(
        f"<{row['id']}@news.example.com>" for row in await _deliveries(campaign["id"]))
    assert (await campaigns.get_campaign(workspace["id"], campaign["id"]))["sent_count"] == 3


async def test_the_count_leaves_out_suppressed_blacklisted_unconfirmed_and_excluded_people():
    workspace = await make_workspace()
    main, vip = await make_list(workspace), await make_list(workspace)
    await make_subscribers(main, 10)
    await make_subscribers(main, 3, prefix="pending", status="unconfirmed")
    await make_subscribers(vip, 2)  # sub1 and sub2 are also VIPs
    await add_pasted(workspace["id"], (await blacklist(workspace["id"]))["id"], "sub3@example.com")
    bounced = await create_suppression_list(workspace["id"], "Old bounces")
    await add_pasted(workspace["id"], bounced["id"], "sub4@example.com")
    vips = await save_segment(workspace["id"], {"name": "VIPs", "list_ids": [vip["id"]], "conditions": None})
    audience = campaigns.Audience((main["id"],), (), (vips["id"],))
    assert await campaigns.recipient_count(workspace["id"], audience) == 10 - 2 - 2


async def test_an_unsubscribe_or_suppression_during_sending_is_honoured(redis, queue, adapters):
    workspace = await make_workspace()
    mailing_list = await make_list(workspace)
    people = await make_subscribers(mailing_list, 6)
    with RecordingServer() as smtp:
        await smtp_server(workspace["id"], smtp.port)
        campaign = await _launched(redis, queue, workspace, [mailing_list])
        await campaigns.materialise(redis, queue, *queue.materialising.pop())
        await change_status(workspace["id"], SubscriberFilter(ids=[people[0]["id"]]), "unsubscribed", "test")
        await add_pasted(workspace["id"], (await blacklist(workspace["id"]))["id"], people[1]["email"])
        await queue.drain(redis, adapters)
    rows = await _by_email(campaign["id"])
    assert {rows[p["email"]]["status"] for p in people[:2]} == {"cancelled"}
    assert sorted(smtp.handler.recipients) == sorted(p["email"] for p in people[2:])
    row = await campaigns.get_campaign(workspace["id"], campaign["id"])
    assert (row["status"], row["sent_count"], row["skipped_count"]) == ("sent", 4, 2)


async def test_deliveries_are_written_in_chunks_each_queued_as_it_lands(redis, queue, adapters):
    workspace = await make_workspace()
    mailing_list = await make_list(workspace)
    people = await make_subscribers(mailing_list, 9_000)
    campaign = await _launched(redis, queue, workspace, [mailing_list])
    await campaigns.materialise(redis, queue, *queue.materialising.pop())
    first_id, last_id = queue.batches[0][2:4]
    first_batch = await Delivery.select(Delivery.subscriber_id).where(
        Delivery.campaign_id == campaign["id"], Delivery.id >= first_id, Delivery.id <= last_id)
    lowest = min(p["id"] for p in people)
    # The first batch came from the first, small chunk of subscriber ids, not from the whole audience.
    assert max(row["subscriber_id"] for row in first_batch) < lowest + 2_000
    assert len(queue.batches) == 9_000 // 250
    row = await campaigns.get_campaign(workspace["id"], campaign["id"])
    assert row["recipient_count"] == 9_000 and row["materialised_at"] is not None


async def test_a_message_that_cannot_be_rendered_fails_alone_with_the_reason(redis, queue, adapters):
    workspace = await make_workspace()
    mailing_list = await make_list(workspace)
    await make_subscribers(mailing_list, 3, fields={"first_name": "Sam"})
    odd = await make_subscribers(mailing_list, 1, prefix="odd", fields={"first_name": "Alice"})
    fragile = "<p>{% if first_name %}{{ 10 / (first_name | length - 5) }}{% endif %} {{ unsubscribe_url }}</p>"
    with RecordingServer() as smtp:
        await smtp_server(workspace["id"], smtp.port)
        campaign = await ready_campaign(workspace["id"], [mailing_list["id"]], html=fragile)
        await campaigns.launch(redis, queue, workspace["id"], campaign["id"], PERSON)
        await queue.drain(redis, adapters)
        assert smtp.handler.received == 3
    failed = (await _by_email(campaign["id"]))[odd[0]["email"]]
    assert failed["status"] == "failed" and "could not render" in failed["last_answer"]
    assert "ZeroDivisionError" in failed["last_answer"]


async def test_a_template_edited_after_launch_does_not_change_the_campaign(redis, queue, adapters):
    workspace = await make_workspace()
    mailing_list = await make_list(workspace)
    await make_subscribers(mailing_list, 2)
    handler = RecordingHandler(keep_bodies=True)
    with RecordingServer(handler) as smtp:
        await smtp_server(workspace["id"], smtp.port)
        campaign = await _launched(redis, queue, workspace, [mailing_list], preheader="Only this week")
        edited = await checked_template({"name": "Offer", "subject": "Changed", "html": "<p>Changed</p>"})
        await save_template(workspace["id"], campaign["template_id"], edited)
        await queue.drain(redis, adapters)
    bodies = list(handler.bodies.values())
    assert len(bodies) == 2
    assert all(b"See the offer" in body and b"Changed" not in body for body in bodies)
    assert all(b"Only this week" in body for body in bodies)
    assert (await campaigns.get_campaign(workspace["id"], campaign["id"]))["snapshot_version"] == 1


async def test_only_drafts_are_edited_and_any_campaign_duplicates_as_a_new_draft(redis, queue):
    workspace = await make_workspace()
    mailing_list = await make_list(workspace)
    await make_subscribers(mailing_list, 1)
    campaign = await _launched(redis, queue, workspace, [mailing_list], routing_tag="promo")
    with pytest.raises(campaigns.CampaignError, match="only drafts"):
        await campaigns.update_draft(workspace["id"], campaign["id"], {"subject": "Too late"})
    copy = await campaigns.duplicate(workspace["id"], campaign["id"])
    assert (copy["status"], copy["name"], copy["routing_tag"]) == ("draft", "Spring offer (copy)", "promo")
    assert copy["list_ids"] == [mailing_list["id"]] and copy["snapshot_at"] is None
    other = await make_workspace()
    with pytest.raises(LookupError):
        await campaigns.duplicate(other["id"], campaign["id"])


async def test_pause_stops_claims_and_resume_sends_the_rest_once(redis, queue, adapters):
    workspace = await make_workspace()
    mailing_list = await make_list(workspace)
    await make_subscribers(mailing_list, 600)
    with RecordingServer() as smtp:
        await smtp_server(workspace["id"], smtp.port)
        campaign = await _launched(redis, queue, workspace, [mailing_list])
        await campaigns.materialise(redis, queue, *queue.materialising.pop())
        first = queue.batches.pop(0)
        await campaigns.send_campaign_batch(redis, queue, adapters, *first[:4])
        await campaigns.pause(redis, workspace["id"], campaign["id"], PERSON)
        await queue.drain(redis, adapters)  # the batches still queued claim nothing
        assert smtp.handler.received == 250
        with pytest.raises(campaigns.CampaignError):
            await campaigns.pause(redis, workspace["id"], campaign["id"], PERSON)
        await campaigns.resume(redis, queue, workspace["id"], campaign["id"], PERSON)
        await queue.drain(redis, adapters)
        received = smtp.handler.counts()
    assert len(received) == 600 and max(received.values()) == 1
    assert (await campaigns.get_campaign(workspace["id"], campaign["id"]))["status"] == "sent"


async def test_cancel_cancels_every_waiting_delivery(redis, queue, adapters):
    workspace = await make_workspace()
    mailing_list = await make_list(workspace)
    await make_subscribers(mailing_list, 300)
    with RecordingServer() as smtp:
        await smtp_server(workspace["id"], smtp.port)
        campaign = await _launched(redis, queue, workspace, [mailing_list])
        await campaigns.materialise(redis, queue, *queue.materialising.pop())
        await campaigns.send_campaign_batch(redis, queue, adapters, *queue.batches.pop(0)[:4])
        cancelled = await campaigns.cancel(redis, workspace["id"], campaign["id"], PERSON)
        await queue.drain(redis, adapters)
        assert smtp.handler.received == 250
    assert (cancelled["status"], cancelled["sent_count"], cancelled["skipped_count"]) == ("cancelled", 250, 50)
    with pytest.raises(campaigns.CampaignError):
        await campaigns.resume(redis, queue, workspace["id"], campaign["id"], PERSON)


async def test_a_batch_in_flight_when_the_campaign_is_cancelled_leaves_nothing_waiting(redis, queue):
    workspace = await make_workspace()
    mailing_list = await make_list(workspace)
    await make_subscribers(mailing_list, 20)
    campaign = await _launched(redis, queue, workspace, [mailing_list])
    await campaigns.materialise(redis, queue, *queue.materialising.pop())
    queue.batches.clear()
    # Two workers hold claims: one will write its messages back as deferred, the other dies.
    deferring = await statements.run("campaigns.claim-batch", workspace["id"], campaign["id"], 0, 10**12, 60)
    dying, writing = deferring[:10], deferring[10:]
    await campaigns.cancel(redis, workspace["id"], campaign["id"], PERSON)
    written = Written()
    for row in writing:
        written.add(row["id"], "deferred", answer="421 4.7.0 Try again later", wait=60)
    await written.store(redis, queue, workspace["id"], campaign["id"])
    await Delivery.update({Delivery.lease_until: now() - timedelta(seconds=1)}).where(
        Delivery.id.is_in([row["id"] for row in dying]))
    assert (await campaigns.reap(redis, queue)).expired_leases == 10
    assert {row["status"] for row in await _deliveries(campaign["id"])} == {"cancelled"}
    assert not queue.batches


async def test_pages_read_live_figures_and_the_send_log_without_counting(redis, queue, adapters):
    workspace = await make_workspace()
    mailing_list = await make_list(workspace)
    people = await make_subscribers(mailing_list, 300)
    with RecordingServer() as smtp:
        await smtp_server(workspace["id"], smtp.port)
        campaign = await _launched(redis, queue, workspace, [mailing_list])
        await campaigns.materialise(redis, queue, *queue.materialising.pop())
        await campaigns.send_campaign_batch(redis, queue, adapters, *queue.batches.pop(0)[:4])
        row = await campaigns.get_campaign(workspace["id"], campaign["id"])
        figures = await campaigns.live_figures(redis, row)
    assert (figures["recipients"], figures["sent"], figures["waiting"]) == (300, 250, 50)
    server_id = str((await _deliveries(campaign["id"]))[0]["server_id"])
    assert figures["breakdown"]["servers"][server_id]["sent"] == 250
    [found] = await campaigns.delivery_log(workspace["id"], campaign["id"], email=people[0]["email"].upper())
    assert found["status"] == "sent" and found["last_answer"].startswith("250")
    # Any part of an address finds it too; LIKE's own wildcards are matched as typed.
    local, _, domain = people[0]["email"].partition("@")
    assert found["id"] in {row["id"] for row in await campaigns.delivery_log(
        workspace["id"], campaign["id"], email=f" {local.upper()}@", limit=300)}
    assert len(await campaigns.delivery_log(workspace["id"], campaign["id"], email=f"@{domain}")) == 50
    assert await campaigns.delivery_log(workspace["id"], campaign["id"], email="%") == []
    assert len(await campaigns.delivery_log(workspace["id"], campaign["id"], status="queued")) == 50
    with pytest.raises(LookupError):
        await campaigns.delivery_log((await make_workspace())["id"], campaign["id"])


async def test_transient_answers_retry_after_1_5_30_120_minutes_then_fail_with_the_last_answer(
        redis, queue, adapters):
    workspace = await make_workspace()
    mailing_list = await make_list(workspace)
    await make_subscribers(mailing_list, 2)
    handler = RecordingHandler(refusal="450 4.2.1 Mailbox busy", refuse_left=10**6)
    waits = []
    with RecordingServer(handler) as smtp:
        await smtp_server(workspace["id"], smtp.port)
        campaign = await _launched(redis, queue, workspace, [mailing_list])
        await queue.drain(redis, adapters)
        for _ in range(4):
            row = (await _deliveries(campaign["id"]))[0]
            assert row["status"] == "deferred"
            waits.append(round((row["next_attempt_at"] - row["updated_at"]).total_seconds() / 60))
            await _move_retries_forward(campaign["id"])
            await queue.drain(redis, adapters, include_delayed=True)
    assert waits == [1, 5, 30, 120]
    rows = await _deliveries(campaign["id"])
    assert {(row["status"], row["attempts"], row["last_answer"]) for row in rows} == {
        ("failed", 5, "450 4.2.1 Mailbox busy")}
    finished = await campaigns.get_campaign(workspace["id"], campaign["id"])
    assert (finished["status"], finished["failed_count"]) == ("sent", 2)


async def test_a_slow_down_answer_defers_without_spending_an_attempt(redis, queue, adapters):
    workspace = await make_workspace()
    mailing_list = await make_list(workspace)
    await make_subscribers(mailing_list, 20)
    handler = RecordingHandler(refusal="454 4.7.0 Throttling failure: Maximum sending rate exceeded.", refuse_left=8)
    with RecordingServer(handler) as smtp:
        await smtp_server(workspace["id"], smtp.port, pool_size=1)
        campaign = await _launched(redis, queue, workspace, [mailing_list])
        await queue.drain(redis, adapters)
        deferred = [row for row in await _deliveries(campaign["id"]) if row["status"] == "deferred"]
        assert len(deferred) == 8 and {row["attempts"] for row in deferred} == {0}
        assert queue.batches and all(delay > 0 for *_, delay in queue.batches)
        await _move_retries_forward(campaign["id"])
        await queue.drain(redis, adapters, include_delayed=True)
        received = handler.counts()
    assert len(received) == 20 and max(received.values()) == 1


async def test_the_reaper_returns_expired_leases_without_resending_what_a_dead_worker_sent(redis, queue, adapters):
    workspace = await make_workspace()
    mailing_list = await make_list(workspace)
    await make_subscribers(mailing_list, 10)
    with RecordingServer() as smtp:
        await smtp_server(workspace["id"], smtp.port)
        campaign = await _launched(redis, queue, workspace, [mailing_list])
        await campaigns.materialise(redis, queue, *queue.materialising.pop())
        queue.batches.clear()
        # A worker claims the batch, sends the first message (Redis hears of it), and dies.
        claimed = await statements.run("campaigns.claim-batch", workspace["id"], campaign["id"], 0, 10**12, 60)
        dead_sent = claimed[0]["id"]
        server = (await smtp_server(workspace["id"], smtp.port, name="Other"))["id"]
        await redis.hset(counters.key(campaign["id"], "accepted"), str(dead_sent),
                         counters.accepted_entry(server, "Q0", "250 2.0.0 Ok: queued as Q0"))
        assert (await campaigns.reap(redis, queue, requeue_after=3600)).expired_leases == 0
        await Delivery.update({Delivery.lease_until: now() - timedelta(seconds=1)}).where(
            Delivery.campaign_id == campaign["id"])
        assert (await campaigns.reap(redis, queue, requeue_after=3600)).expired_leases == 10
        await queue.drain(redis, adapters)
        received = smtp.handler.counts()
    rows = await _deliveries(campaign["id"])
    assert {row["status"] for row in rows} == {"sent"}
    assert f"<{dead_sent}@news.example.com>" not in received and len(received) == 9
    assert next(row for row in rows if row["id"] == dead_sent)["provider_message_id"] == "Q0"


async def test_batches_lost_with_the_queue_are_queued_again_once_nobody_claims(redis, queue, adapters):
    workspace = await make_workspace()
    mailing_list = await make_list(workspace)
    await make_subscribers(mailing_list, 700)
    with RecordingServer() as smtp:
        await smtp_server(workspace["id"], smtp.port)
        campaign = await _launched(redis, queue, workspace, [mailing_list])
        await campaigns.materialise(redis, queue, *queue.materialising.pop())
        queue.batches.clear()  # Redis restarted: the queued messages are gone
        assert (await campaigns.reap(redis, queue, requeue_after=3600)).requeued_campaigns == []
        await redis.delete(counters.key(campaign["id"], "progress"))
        assert (await campaigns.reap(redis, queue, requeue_after=3600)).requeued_campaigns == [campaign["id"]]
        await queue.drain(redis, adapters)
        received = smtp.handler.counts()
    assert len(received) == 700 and max(received.values()) == 1


async def test_a_scheduled_campaign_starts_when_due_in_its_time_zone(redis, queue):
    workspace = await make_workspace()
    mailing_list = await make_list(workspace)
    await make_subscribers(mailing_list, 1)
    draft = await ready_campaign(workspace["id"], [mailing_list["id"]], timezone="America/New_York",
                                 scheduled_at="2099-07-01T09:30")
    assert draft["scheduled_at"].isoformat() == "2099-07-01T13:30:00+00:00"
    scheduled = await campaigns.launch(redis, queue, workspace["id"], draft["id"], PERSON)
    assert scheduled["status"] == "scheduled" and scheduled["snapshot_at"] is not None
    assert await campaigns.start_due(redis, queue) == [] and not queue.materialising
    await Campaign.update({Campaign.scheduled_at: now() - timedelta(minutes=5)}).where(Campaign.id == draft["id"])
    assert await campaigns.start_due(redis, queue) == [draft["id"]]
    assert queue.materialising == [(workspace["id"], draft["id"])]
    assert (await campaigns.get_campaign(workspace["id"], draft["id"]))["status"] == "sending"


async def test_a_campaign_that_missed_its_latest_start_waits_for_a_person(redis, queue):
    workspace = await make_workspace()
    mailing_list = await make_list(workspace)
    await make_subscribers(mailing_list, 1)
    draft = await ready_campaign(workspace["id"], [mailing_list["id"]], scheduled_at="2099-01-01T08:00")
    await campaigns.launch(redis, queue, workspace["id"], draft["id"], PERSON)
    # The platform was down for three hours over the campaign's time.
    await Campaign.update({Campaign.scheduled_at: now() - timedelta(hours=3)}).where(Campaign.id == draft["id"])
    assert await campaigns.start_due(redis, queue, latest_start=timedelta(hours=1)) == []
    held = await campaigns.get_campaign(workspace["id"], draft["id"])
    assert held["status"] == "scheduled" and "passed 180 minutes ago" in held["status_reason"]
    assert await campaigns.start_due(redis, queue) == [] and not queue.materialising
    started = await campaigns.launch(redis, queue, workspace["id"], draft["id"], PERSON)
    assert (started["status"], started["status_reason"]) == ("sending", "")


async def test_launch_names_what_is_missing_and_the_sender_must_use_a_sending_domain(redis, queue):
    workspace = await make_workspace()
    draft = await campaigns.create_draft(workspace["id"], {"name": "Empty"})
    with pytest.raises(campaigns.CampaignError) as problem:
        await campaigns.launch(redis, queue, workspace["id"], draft["id"], PERSON)
    assert set(problem.value.errors) == {"template_id", "from_email", "list_ids", "subject"}
    with pytest.raises(campaigns.CampaignError) as problem:
        await campaigns.update_draft(workspace["id"], draft["id"], {"from_email": "me@elsewhere.example"})
    assert "Sending domains" in problem.value.errors["from_email"]
