"""A/B tests end to end in the test process: the split, the held rest, the winner, the learnings, the snapshots.

Time moves forward by writing a past `started_at`; opens are seeded into the events table (tracking is not
built yet), joined to the deliveries they belong to.
"""

from __future__ import annotations

import asyncio
import email
from collections import Counter
from datetime import timedelta
from email.utils import parseaddr

import pytest

from app.db.audit import AuditEntry
from app.db.campaigns import Campaign, CampaignVariant, ContentLearning, Delivery
from app.services import campaigns
from app.services.accounts import now
from app.services.campaigns import variants, winner
from app.services.sqlparams import fetch, fetch_positional
from app.services.templates import checked_template, create_template, save_template
from tests.factories import make_list, make_subscribers, make_workspace
from tests.integration.campaigns.helpers import PERSON, ready_campaign, smtp_server
from tests.integration.campaigns.recorder import RecordingHandler, RecordingServer

SECOND_DESIGN = ("<html><body><p>Second design for {{ email }}</p>"
                 "<p><a href=\"{{ unsubscribe_url }}\">Unsubscribe</a></p></body></html>")


async def _ab_campaign(workspace: dict, mailing_list: dict, dimension: str = "subject", percent: int = 50,
                       **changed: str) -> dict:
    campaign = await ready_campaign(workspace["id"], [mailing_list["id"]])
    return await variants.save_content(workspace["id"], campaign["id"], {
        "template_id": str(campaign["template_id"]), "ab_dimension": dimension, "ab_test_percent": str(percent),
        "ab_metric": "opens", "ab_wait_minutes": "60", **changed})


async def _deliveries(campaign_id: int) -> list[dict]:
    return await Delivery.select().where(Delivery.campaign_id == campaign_id).order_by(Delivery.id)


async def _seed_opens(delivery_ids: list[int]) -> None:
    await fetch_positional(
        "INSERT INTO events (workspace_id, subscriber_id, campaign_id, delivery_id, kind) "
        "SELECT workspace_id, subscriber_id, campaign_id, id, 'open' FROM deliveries WHERE id = ANY($1::bigint[])",
        [delivery_ids])


async def _wait_over(campaign_id: int) -> None:
    await Campaign.update({Campaign.started_at: now() - timedelta(minutes=61)}).where(Campaign.id == campaign_id)


def _headers(handler: RecordingHandler, delivery_id: int) -> email.message.Message:
    return email.message_from_bytes(handler.bodies[f"<{delivery_id}@news.example.com>"])


async def test_the_test_share_is_split_evenly_and_the_same_way_every_time(redis, queue):
    workspace = await make_workspace()
    mailing_list = await make_list(workspace)
    await make_subscribers(mailing_list, 4_000)
    campaign = await _ab_campaign(workspace, mailing_list, percent=40, variant_1_subject="Spring is here",
                                  variant_2_subject="Our spring offer")
    await campaigns.launch(redis, queue, workspace["id"], campaign["id"], PERSON)
    await campaigns.materialise(redis, queue, workspace["id"], campaign["id"])
    rows = await _deliveries(campaign["id"])
    shares = Counter((row["variant"], row["status"]) for row in rows)
    assert set(shares) == {(1, "queued"), (2, "queued"), (0, "held")}
    # 40% of 4,000 split two ways is 800 each; a hash split lands within a few standard deviations (25) of it.
    assert all(650 <= shares[(variant, "queued")] <= 950 for variant in (1, 2))
    assert 2_250 <= shares[(0, "held")] <= 2_550
    variant_sql, status_sql = variants.assignment_sql(await campaigns.get_campaign(workspace["id"], campaign["id"]))
    again = await fetch(f"SELECT s.email, {variant_sql} AS variant, {status_sql} AS status FROM subscribers s "
                        f"WHERE s.list_id = {int(mailing_list['id'])}")
    assert {row["email"]: (row["variant"], row["status"]) for row in again} == {
        row["email"]: (row["variant"], row["status"]) for row in rows}


async def test_the_winner_goes_to_the_held_rest_once_the_wait_is_over(redis, queue, adapters):
    workspace = await make_workspace()
    mailing_list = await make_list(workspace)
    await make_subscribers(mailing_list, 400)
    handler = RecordingHandler(keep_bodies=True)
    with RecordingServer(handler) as smtp:
        await smtp_server(workspace["id"], smtp.port)
        campaign = await _ab_campaign(workspace, mailing_list, variant_1_subject="Subject A",
                                      variant_2_subject="Subject B")
        await campaigns.launch(redis, queue, workspace["id"], campaign["id"], PERSON)
        await queue.drain(redis, adapters)
        tested = await _deliveries(campaign["id"])
        held = [row["id"] for row in tested if row["status"] == "held"]
        sent = {variant: [row["id"] for row in tested if row["variant"] == variant and row["status"] == "sent"]
                for variant in (1, 2)}
        # Held rows are never claimed: only the test share was sent, and the campaign waits for the winner.
        assert held and handler.received == len(sent[1]) + len(sent[2]) == len(tested) - len(held)
        assert (await campaigns.get_campaign(workspace["id"], campaign["id"]))["status"] == "sending"
        assert await winner.decide_due(redis, queue) == []

        await _seed_opens(sent[1][: len(sent[1]) // 10] + sent[2][: len(sent[2]) * 4 // 10])
        await _wait_over(campaign["id"])
        assert await winner.decide_due(redis, queue) == [campaign["id"]]
        await queue.drain(redis, adapters)
    decided = await campaigns.get_campaign(workspace["id"], campaign["id"])
    assert (decided["ab_winner"], decided["status"]) == (2, "sent") and decided["ab_decided_at"] is not None
    assert handler.counts() == Counter({f"<{row['id']}@news.example.com>": 1 for row in tested})
    assert {_headers(handler, delivery_id)["Subject"] for delivery_id in held} == {"Subject B"}
    assert {_headers(handler, delivery_id)["Subject"] for delivery_id in sent[1]} == {"Subject A"}
    assert {row["variant"] for row in await _deliveries(campaign["id"]) if row["id"] in held} == {2}

    learned = await ContentLearning.select().where(ContentLearning.campaign_id == campaign["id"]).order_by(
        ContentLearning.variant)
    first, second = learned
    assert (first["sample_size"], first["successes"]) == (len(sent[1]), len(sent[1]) // 10)
    assert (second["sample_size"], second["successes"]) == (len(sent[2]), len(sent[2]) * 4 // 10)
    assert second["rate"] == pytest.approx(second["successes"] / second["sample_size"])
    assert second["lift"] == pytest.approx((second["rate"] - first["rate"]) / first["rate"])
    assert (first["lift"], first["p_value"]) == (0.0, None) and second["p_value"] < 0.001
    assert (first["winner"], second["winner"]) == (False, True)
    assert (second["dimension"], second["content"], second["metric"]) == ("subject", "Subject B", "opens")
    audited = await AuditEntry.select().where(AuditEntry.action == "campaign.ab_decided").output(load_json=True)
    assert len(audited) == 1 and audited[0]["details"]["winner"] == 2


async def test_two_decisions_at_once_decide_and_send_the_rest_once(redis, queue, adapters):
    workspace = await make_workspace()
    mailing_list = await make_list(workspace)
    await make_subscribers(mailing_list, 300)
    with RecordingServer() as smtp:
        await smtp_server(workspace["id"], smtp.port)
        campaign = await _ab_campaign(workspace, mailing_list, percent=30, variant_1_subject="One",
                                      variant_2_subject="Two", variant_3_subject="Three")
        await campaigns.launch(redis, queue, workspace["id"], campaign["id"], PERSON)
        await queue.drain(redis, adapters)
        await _wait_over(campaign["id"])
        decided = await asyncio.gather(*[winner.decide(redis, queue, workspace["id"], campaign["id"])
                                         for _ in range(2)])
        assert sorted(decided) == [False, True]
        assert await winner.decide_due(redis, queue) == []
        await queue.drain(redis, adapters)
        received = smtp.handler.counts()
    assert len(received) == 300 and set(received.values()) == {1}
    assert await ContentLearning.count().where(ContentLearning.campaign_id == campaign["id"]) == 3
    assert await AuditEntry.count().where(AuditEntry.action == "campaign.ab_decided") == 1
    assert (await campaigns.get_campaign(workspace["id"], campaign["id"]))["status"] == "sent"


async def test_each_variant_sends_its_snapshot_even_after_its_template_is_edited(redis, queue, adapters):
    workspace = await make_workspace()
    mailing_list = await make_list(workspace)
    await make_subscribers(mailing_list, 40)
    campaign = await ready_campaign(workspace["id"], [mailing_list["id"]])
    second = await create_template(workspace["id"], {"name": "Second", "subject": "Second look",
                                                     "html": SECOND_DESIGN}, None)
    await variants.save_content(workspace["id"], campaign["id"], {
        "ab_dimension": "content", "ab_test_percent": "100", "ab_metric": "clicks", "ab_wait_minutes": "30",
        "variant_1_template_id": str(campaign["template_id"]), "variant_2_template_id": str(second["id"])})
    handler = RecordingHandler(keep_bodies=True)
    with RecordingServer(handler) as smtp:
        await smtp_server(workspace["id"], smtp.port)
        await campaigns.launch(redis, queue, workspace["id"], campaign["id"], PERSON)
        for template_id in (campaign["template_id"], second["id"]):
            edited = await checked_template({"name": "Edited", "subject": "Changed",
                                             "html": "<p>Changed {{ unsubscribe_url }}</p>"})
            await save_template(workspace["id"], template_id, edited)
        await queue.drain(redis, adapters)
    by_variant: dict[int, list[bytes]] = {1: [], 2: []}
    for row in await _deliveries(campaign["id"]):
        by_variant[row["variant"]].append(handler.bodies[f"<{row['id']}@news.example.com>"])
    assert by_variant[1] and by_variant[2] and handler.received == 40
    assert all(b"See the offer" in body and b"Changed" not in body for body in by_variant[1])
    assert all(b"Second design" in body and b"Changed" not in body for body in by_variant[2])
    assert all(email.message_from_bytes(body)["Subject"] == "Second look" for body in by_variant[2])
    frozen = await CampaignVariant.select().where(CampaignVariant.campaign_id == campaign["id"])
    assert {row["snapshot_version"] for row in frozen} == {1}


async def test_a_from_name_test_on_everyone_is_decided_after_it_was_sent(redis, queue, adapters):
    workspace = await make_workspace()
    mailing_list = await make_list(workspace)
    await make_subscribers(mailing_list, 30)
    handler = RecordingHandler(keep_bodies=True)
    with RecordingServer(handler) as smtp:
        await smtp_server(workspace["id"], smtp.port)
        campaign = await _ab_campaign(workspace, mailing_list, dimension="from_name", percent=100,
                                      variant_1_from_name="Shop", variant_3_from_name="Anna at Shop")
        assert [row["label"] for row in campaign["variants"]] == ["Shop", "Anna at Shop"]
        await campaigns.launch(redis, queue, workspace["id"], campaign["id"], PERSON)
        await queue.drain(redis, adapters)
    rows = await _deliveries(campaign["id"])
    senders = {(row["variant"], parseaddr(_headers(handler, row["id"])["From"])[0]) for row in rows}
    assert senders == {(1, "Shop"), (2, "Anna at Shop")}
    assert (await campaigns.get_campaign(workspace["id"], campaign["id"]))["status"] == "sent"
    counts = Counter(row["variant"] for row in rows)
    live = await variants.ab_results(workspace["id"], campaign["id"])
    assert [(row["variant"], row["sent"], row["successes"]) for row in live] == [(1, counts[1], 0), (2, counts[2], 0)]
    await _wait_over(campaign["id"])
    assert await winner.decide_due(redis, queue) == [campaign["id"]]
    results = await variants.ab_results(workspace["id"], campaign["id"])
    # Nobody opened anything: a tie, which goes to the first variant.
    assert [(row["label"], row["rate"], row["winner"]) for row in results] == [
        ("Shop", 0.0, True), ("Anna at Shop", 0.0, False)]


async def test_the_content_step_names_each_field_it_cannot_save():
    workspace = await make_workspace()
    mailing_list = await make_list(workspace)
    campaign = await ready_campaign(workspace["id"], [mailing_list["id"]])
    template_id = str(campaign["template_id"])
    cases = [
        ({"ab_dimension": "colour"}, "ab_dimension"),
        ({"ab_dimension": "subject", "variant_1_subject": "Only one"}, "variant_2_subject"),
        ({"ab_dimension": "subject", "variant_1_subject": "Same", "variant_2_subject": "Same"}, "variant_2_subject"),
        ({"ab_dimension": "subject", "variant_1_subject": "A", "variant_2_subject": "B", "ab_test_percent": "0"},
         "ab_test_percent"),
        ({"ab_dimension": "from_name", "variant_1_from_name": "A", "variant_2_from_name": "B", "ab_metric": "likes"},
         "ab_metric"),
        ({"ab_dimension": "subject", "variant_1_subject": "A", "variant_2_subject": "B", "ab_wait_minutes": "x"},
         "ab_wait_minutes"),
        ({"ab_dimension": "content", "variant_1_template_id": template_id}, "variant_2_template_id"),
        ({"template_id": ""}, "template_id"),
    ]
    for raw, field in cases:
        with pytest.raises(campaigns.CampaignError) as refused:
            await variants.save_content(workspace["id"], campaign["id"], {"template_id": template_id, **raw})
        assert field in refused.value.errors, raw
    assert await variants.variants_of(workspace["id"], campaign["id"]) == []
    other = await make_workspace()
    foreign = await create_template(other["id"], {"name": "Theirs", "subject": "x", "html": SECOND_DESIGN}, None)
    with pytest.raises(LookupError):
        await variants.save_content(workspace["id"], campaign["id"], {
            "template_id": template_id, "ab_dimension": "content", "variant_1_template_id": template_id,
            "variant_2_template_id": str(foreign["id"])})
    with pytest.raises(LookupError):
        await variants.variants_of(other["id"], campaign["id"])
    saved = await variants.save_content(workspace["id"], campaign["id"], {
        "template_id": template_id, "ab_dimension": "subject", "variant_2_subject": "Two", "variant_4_subject": "Four"})
    assert [(row["variant"], row["label"]) for row in saved["variants"]] == [(1, "Two"), (2, "Four")]
    assert (saved["ab_test_percent"], saved["ab_metric"], saved["ab_wait_minutes"]) == (20, "opens", 240)
    cleared = await variants.save_content(workspace["id"], campaign["id"], {"template_id": template_id,
                                                                            "ab_dimension": ""})
    assert cleared["ab_dimension"] == "" and cleared["variants"] == []


def test_the_figures_of_a_decision():
    # 30% against 20% of 100 each: pooled 25%, z = 1.633, two-sided p = 0.102.
    assert winner.p_value(30, 100, 20, 100) == pytest.approx(0.1025, abs=5e-4)
    assert winner.p_value(50, 100, 50, 100) == 1.0 and winner.p_value(3, 0, 1, 10) is None
    assert winner.lift(0.3, 0.2) == pytest.approx(0.5) and winner.lift(0.3, 0.0) is None
    tie = [{"variant": 1, "sent": 10, "successes": 2}, {"variant": 2, "sent": 20, "successes": 4},
           {"variant": 3, "sent": 10, "successes": 1}]
    assert winner.winning_variant(tie) == 1
    assert winner.winning_variant([*tie, {"variant": 4, "sent": 5, "successes": 2}]) == 4


async def test_cancelling_a_test_cancels_its_held_rest_and_it_is_never_decided(redis, queue):
    workspace = await make_workspace()
    mailing_list = await make_list(workspace)
    await make_subscribers(mailing_list, 200)
    campaign = await _ab_campaign(workspace, mailing_list, variant_1_subject="A", variant_2_subject="B")
    await campaigns.launch(redis, queue, workspace["id"], campaign["id"], PERSON)
    await campaigns.materialise(redis, queue, workspace["id"], campaign["id"])
    await campaigns.cancel(redis, workspace["id"], campaign["id"], PERSON)
    await _wait_over(campaign["id"])
    assert await winner.decide_due(redis, queue) == []
    assert {row["status"] for row in await _deliveries(campaign["id"])} == {"cancelled"}
    assert (await campaigns.get_campaign(workspace["id"], campaign["id"]))["skipped_count"] == 200


async def test_duplicating_an_ab_campaign_keeps_its_test_and_variants():
    workspace = await make_workspace()
    mailing_list = await make_list(workspace)
    source = await _ab_campaign(workspace, mailing_list, variant_1_subject="Red", variant_2_subject="Blue")
    copy = await campaigns.duplicate(workspace["id"], source["id"])
    assert (copy["ab_dimension"], copy["ab_test_percent"]) == ("subject", 50)
    assert [row["subject"] for row in await variants.variants_of(workspace["id"], copy["id"])] == ["Red", "Blue"]


async def test_a_test_share_that_leaves_a_variant_with_nobody_cannot_launch(redis, queue):
    workspace = await make_workspace()
    mailing_list = await make_list(workspace)
    await make_subscribers(mailing_list, 3)
    draft = await _ab_campaign(workspace, mailing_list, percent=20, variant_1_subject="Red",
                               variant_2_subject="Blue")
    with pytest.raises(campaigns.CampaignError) as refused:
        await campaigns.launch(redis, queue, workspace["id"], draft["id"], PERSON)
    assert "leaves a variant with nobody" in refused.value.errors["ab_dimension"]
    assert (await campaigns.get_campaign(workspace["id"], draft["id"]))["status"] == "draft"
