"""'Received a campaign in the last N days': left out of the live count and of the deliveries alike."""

from __future__ import annotations

from datetime import timedelta

from app.db.campaigns import Campaign, Delivery
from app.services import campaigns
from app.services.accounts import now
from app.services.campaigns import Audience
from tests.factories import make_list, make_subscriber, make_workspace
from tests.integration.campaigns.helpers import PERSON, ready_campaign


async def _earlier_campaign(workspace_id: int, sent: dict[str, tuple[str, int]]) -> None:
    """A finished campaign whose deliveries went to these addresses: email → (status, days ago)."""
    rows = await Campaign.insert(Campaign(workspace_id=workspace_id, name="Earlier", status="sent",
                                          created_at=now(), updated_at=now())).returning(Campaign.id)
    await Delivery.insert(*[
        Delivery(workspace_id=workspace_id, campaign_id=rows[0]["id"], email=email, domain="example.com",
                 status=status, sent_at=now() - timedelta(days=days) if status == "sent" else None,
                 next_attempt_at=now(), created_at=now(), updated_at=now())
        for email, (status, days) in sent.items()])


async def test_people_sent_a_campaign_lately_are_left_out_of_the_count_and_the_send(redis, queue):
    workspace = await make_workspace()
    other = await make_workspace()
    mailing_list = await make_list(workspace)
    for name in ("recent", "long-ago", "failed", "fresh", "elsewhere"):
        await make_subscriber(mailing_list, f"{name}@example.com", status="confirmed")
    await _earlier_campaign(workspace["id"], {"recent@example.com": ("sent", 3),
                                              "long-ago@example.com": ("sent", 40),
                                              "failed@example.com": ("failed", 1)})
    # Another workspace's sends are none of this workspace's business.
    await _earlier_campaign(other["id"], {"elsewhere@example.com": ("sent", 1)})

    audience = Audience(list_ids=(mailing_list["id"],))
    assert await campaigns.recipient_count(workspace["id"], audience) == 5
    assert await campaigns.recipient_count(workspace["id"], Audience((mailing_list["id"],),
                                                                     exclude_recent_days=30)) == 4
    assert await campaigns.recipient_count(workspace["id"], Audience((mailing_list["id"],),
                                                                     exclude_recent_days=60)) == 3

    draft = await ready_campaign(workspace["id"], [mailing_list["id"]], exclude_recent_days="30")
    launched = await campaigns.launch(redis, queue, workspace["id"], draft["id"], PERSON)
    while queue.materialising:
        await campaigns.materialise(redis, queue, *queue.materialising.pop(0))
    written = await Delivery.select(Delivery.email).where(Delivery.campaign_id == launched["id"])
    assert sorted(row["email"] for row in written) == [
        "elsewhere@example.com", "failed@example.com", "fresh@example.com", "long-ago@example.com"]
    assert (await campaigns.get_campaign(workspace["id"], launched["id"]))["recipient_count"] == 4
