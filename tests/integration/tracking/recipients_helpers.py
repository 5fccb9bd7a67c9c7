"""A sent campaign whose recipients are on a second list too, and the links of their messages as the sender
builds them (`CampaignUrls` with the sender's tracker), for the unsubscribe, preference and web-version tests."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from app.db.audience import MailingList, Subscriber
from app.services.campaigns.content import CampaignUrls
from app.services.tracking.tokens import tracking_keys
from app.services.tracking.urls import DeliveryTracker
from app.settings import get_settings
from tests.factories import make_list, make_subscriber
from tests.integration.tracking.helpers import BASE, HTML, SentCampaign, sent_campaign


@dataclass
class TwoListCampaign:
    sent: SentCampaign
    other_list: dict

    @property
    def workspace_id(self) -> int:
        return self.sent.workspace["id"]

    @property
    def campaign_id(self) -> int:
        return self.sent.campaign["id"]

    def urls(self) -> CampaignUrls:
        campaign = self.sent.campaign
        tracker = DeliveryTracker(BASE, tracking_keys(get_settings()), campaign["workspace_id"], campaign["id"],
                                  campaign["snapshot_version"])
        return CampaignUrls(tracker, "news.example.com")

    def unsubscribe_path(self, delivery: dict) -> str:
        return urlsplit(self.urls().unsubscribe_url(str(delivery["id"]))).path

    def web_version_path(self, delivery: dict) -> str:
        return urlsplit(self.urls().web_version_url(str(delivery["id"]))).path


async def two_list_campaign(recipients: int = 2, html: str = HTML, **fields: object) -> TwoListCampaign:
    """A campaign sent to list one; each recipient is also on a second list the campaign did not go to."""
    sent = await sent_campaign(recipients=recipients, html=html)
    if fields:
        await Subscriber.update({Subscriber.fields: fields}).where(Subscriber.workspace_id == sent.workspace["id"])
    other = await make_list(sent.workspace, "Weekly deals")
    for delivery in sent.deliveries:
        await make_subscriber(other, delivery["email"], status="confirmed")
    return TwoListCampaign(sent, other)


async def list_name(campaign: dict) -> str:
    return (await MailingList.select(MailingList.name).where(MailingList.id == campaign["list_ids"][0]))[0]["name"]


async def statuses(workspace_id: int, email: str) -> dict[int, str]:
    rows = await Subscriber.select(Subscriber.list_id, Subscriber.status).where(
        Subscriber.workspace_id == workspace_id, Subscriber.email == email)
    return {row["list_id"]: row["status"] for row in rows}


async def unsubscribe_events(campaign_id: int | None = None) -> list[dict]:
    where = "campaign_id = {}" if campaign_id is not None else "campaign_id IS NULL"
    return await Subscriber.raw(f"SELECT workspace_id, subscriber_id, campaign_id, delivery_id, meta FROM events "
                                f"WHERE kind = 'unsubscribe' AND {where} ORDER BY id",
                                *([campaign_id] if campaign_id is not None else []))
