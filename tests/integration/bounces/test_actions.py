"""Actions: what each category does, and the send path's synchronous answers."""

from __future__ import annotations

from app.services.bounces import actions
from app.services.bounces.classifier import classify_reply
from app.services.bounces.model import AUTOREPLY, BLOCK, COMPLAINT, HARD, SOFT, UNKNOWN, FeedbackSettings
from app.services.subscribers.timeline import timeline
from tests.factories import make_workspace
from tests.integration.bounces.helpers_processing import blacklisted, bounces_of, counters, sent_delivery, statuses

EMAIL = "bob@example.org"


def test_each_category_calls_for_its_action():
    settings = FeedbackSettings(soft_limit=3)
    assert actions.action_for(HARD, True, 0, settings) == actions.SUPPRESSED
    assert actions.action_for(COMPLAINT, True, 0, settings) == actions.COMPLAINED
    assert actions.action_for(BLOCK, True, 0, settings) == actions.COUNTED
    assert actions.action_for(SOFT, True, 2, settings) == actions.COUNTED
    assert actions.action_for(SOFT, True, 3, settings) == actions.SOFT_LIMIT
    assert actions.action_for(AUTOREPLY, True, 0, settings) == actions.STORED
    assert actions.action_for(UNKNOWN, False, 0, settings) == actions.REVIEW
    assert actions.action_for(HARD, False, 0, settings) == actions.UNMATCHED


async def test_a_synchronous_user_unknown_suppresses_once_however_often_it_is_recorded():
    workspace = await make_workspace()
    delivery = await sent_delivery(workspace, EMAIL)
    answer = classify_reply(550, "5.1.1 <bob@example.org>: Recipient address rejected: User unknown")
    assert answer.category == HARD

    await actions.record_answers(workspace["id"], [(delivery["id"], answer)])
    await actions.record_answers(workspace["id"], [(delivery["id"], answer)])

    [bounce] = await bounces_of(workspace["id"])
    assert (bounce["email"], bounce["report_id"], bounce["delivery_id"], bounce["action_taken"]) == (
        EMAIL, None, delivery["id"], actions.SUPPRESSED)
    assert await statuses(workspace["id"], EMAIL) == ["bounced"]
    assert await blacklisted(workspace["id"]) == [EMAIL]
    assert (await counters(workspace["id"]))["hard"] == 1


async def test_a_synchronous_spam_block_is_counted_and_suppresses_nobody():
    workspace = await make_workspace()
    delivery = await sent_delivery(workspace, EMAIL)
    answer = classify_reply(554, "5.7.1 Service unavailable; Client host [192.0.2.1] blocked using Spamhaus")
    assert answer.category == BLOCK
    await actions.record_answers(workspace["id"], [(delivery["id"], answer)])
    assert await statuses(workspace["id"], EMAIL) == ["confirmed"]
    assert (await counters(workspace["id"]))["block"] == 1


async def test_answers_about_another_workspaces_delivery_are_ignored():
    mine, theirs = await make_workspace(), await make_workspace()
    delivery = await sent_delivery(theirs, EMAIL)
    answer = classify_reply(550, "5.1.1 User unknown")
    applied = await actions.record_answers(mine["id"], [(delivery["id"], answer)])
    assert applied.counts == [] and await bounces_of(mine["id"]) == [] and await bounces_of(theirs["id"]) == []
    assert await statuses(theirs["id"], EMAIL) == ["confirmed"]


async def test_the_subscriber_timeline_says_what_bounced_in_words():
    workspace = await make_workspace()
    delivery = await sent_delivery(workspace, EMAIL)
    await actions.record_answers(workspace["id"], [(delivery["id"], classify_reply(550, "5.1.1 User unknown"))])
    page = await timeline(workspace["id"], delivery["subscriber_id"])
    [entry] = [entry for entry in page.entries if entry.kind == "bounce"]
    assert entry.words == "A bounce came back for" and entry.detail.startswith("hard bounce: 5.1.1")
    assert "User unknown" in entry.detail and entry.campaign_id == delivery["campaign_id"]
