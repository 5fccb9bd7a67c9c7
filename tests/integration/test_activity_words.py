"""The activity feed says what happened in words, naming the campaign or list as it is called now (or as
the entry recorded it once deleted), links to it, and never names another workspace's things."""

from __future__ import annotations

import asyncio

from app.db.campaigns import Campaign
from app.redis_client import get_redis
from app.routes.activity import ITEM, feed_messages
from app.services import activity, activity_feed, audit, campaigns, lists
from app.services.audit import Actor
from tests.factories import make_workspace

ANA = Actor(user_id=None, email="ana@example.com", ip="127.0.0.1")


async def test_entries_name_their_targets_as_they_are_called_now():
    workspace = await make_workspace()
    other = await make_workspace()
    redis = get_redis()
    draft = await campaigns.create_draft(workspace["id"], {"name": "Spring sale"})
    theirs = await campaigns.create_draft(other["id"], {"name": "Not yours"})
    kept = await lists.create_list(workspace["id"], {"name": "Customers"})
    await audit.record(redis, workspace["id"], ANA, "campaign.updated", "campaign", draft["id"], {"step": "audience"})
    await audit.record(redis, workspace["id"], ANA, "list.created", "list", kept["id"], {"name": "Customers"})
    await audit.record(redis, workspace["id"], ANA, "list.deleted", "list", 999, {"name": "Old leads"})
    await audit.record(redis, workspace["id"], ANA, "campaign.paused", "campaign", theirs["id"])
    await audit.record(redis, workspace["id"], ANA, "import.finished", "import", 77)
    await audit.record(redis, workspace["id"], ANA, "bounce_mailbox.deleted", "bounce_mailbox", 5, {"name": "FBL"})
    await audit.record(redis, workspace["id"], ANA, "bounces.reclassified", "bounce", 41, {"category": "hard"})
    await Campaign.update({Campaign.name: "Spring sale (final)"}).where(Campaign.id == draft["id"])

    entries = await activity_feed.recent(workspace["id"])
    said = [(entry["sentence"], entry["link"]) for entry in entries]

    assert said == [
        ("ana@example.com reclassified bounce “#41” as hard", ""),
        ("ana@example.com removed bounce mailbox “FBL”", ""),
        ("ana@example.com finished import “#77”", ""),
        (f"ana@example.com paused campaign “#{theirs['id']}”", ""),
        ("ana@example.com deleted list “Old leads”", ""),
        ("ana@example.com created list “Customers”", f"/mailing/lists/{kept['id']}"),
        ("ana@example.com saved the audience step of campaign “Spring sale (final)”",
         f"/mailing/campaigns/{draft['id']}"),
    ]


async def test_the_tracking_summary_reads_as_a_sentence_without_a_query():
    entry = activity.engagement_entry({"workspace_id": 1, "campaign_id": 4, "name": "Spring",
                                       "batch": {"opens": 12, "clicks": 3, "bot_clicks": 1}})
    assert entry is not None

    [shown] = activity_feed.described([entry], {})

    assert shown["sentence"] == "Tracking recorded 12 opens, 3 clicks, 1 bot click on campaign “Spring”"
    assert shown["link"] == "/mailing/campaigns/4"


async def test_the_live_feed_renders_each_published_entry_in_words(app):
    workspace = await make_workspace()
    redis = get_redis()
    draft = await campaigns.create_draft(workspace["id"], {"name": "Spring sale"})
    item = app.template_engine.get_template(ITEM)
    stream = feed_messages(redis, workspace["id"], item)
    first = asyncio.ensure_future(anext(stream))
    # The stream hears only what is published once it has subscribed.
    for _ in range(500):
        if (await redis.pubsub_numsub(activity.channel(workspace["id"])))[0][1]:
            break
        await asyncio.sleep(0.01)

    await audit.record(redis, workspace["id"], ANA, "campaign.started", "campaign", draft["id"])
    message = await first
    for _ in range(3):  # keep-alive comments may come first
        if message.event:
            break
        message = await anext(stream)
    await stream.aclose()

    assert message.event == "activity"
    assert "ana@example.com started sending campaign “Spring sale”" in message.data
    assert f'href="/mailing/campaigns/{draft["id"]}"' in message.data
    assert "campaign.started ·" not in message.data
