"""A new installation's demo workspace can send a first campaign at once, into the development inbox."""

from __future__ import annotations

from app.db.accounts import Workspace
from app.db.inbox import CapturedMessage
from app.services import campaigns, templates
from app.services.campaigns import review
from app.services.demo import DEMO_LIST, DEMO_SENDER, create_demo_workspace
from app.services.lists import lists_with_counts
from tests.integration.campaigns.helpers import PERSON, LocalQueue


async def test_the_demo_workspace_sends_a_first_campaign_to_the_development_inbox(redis, adapters):
    assert await create_demo_workspace() is not None
    workspace = await Workspace.select().first()
    [demo_list] = [row for row in await lists_with_counts(workspace["id"]) if row["name"] == DEMO_LIST]
    [template] = await templates.library(workspace["id"])
    draft = await campaigns.create_draft(workspace["id"], {
        "name": "First", "from_email": DEMO_SENDER, "list_ids": [str(demo_list["id"])],
        "template_id": str(template["id"])})

    checked = await review.review(workspace["id"], draft["id"])
    assert checked.can_launch, checked.checks
    queue = LocalQueue()
    await campaigns.launch(redis, queue, workspace["id"], draft["id"], PERSON)
    await queue.drain(redis, adapters)

    sent = await campaigns.get_campaign(workspace["id"], draft["id"])
    assert (sent["status"], sent["sent_count"]) == ("sent", 3)
    captured = await CapturedMessage.select(CapturedMessage.rcpt_to).where(
        CapturedMessage.workspace_id == workspace["id"])
    assert {row["rcpt_to"] for row in captured} == {"ada@example.com", "grace@example.com", "alan@example.com"}
    assert await create_demo_workspace() is None
