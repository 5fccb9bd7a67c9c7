"""A campaign as it stands after sending (snapshot frozen, one delivery per subscriber), and its messages
rendered with the tracker the sender uses, so tests can follow the links a recipient gets."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from html import unescape
from typing import Any

from app.db.campaigns import Campaign, Delivery
from app.services.accounts import now
from app.services.campaigns.content import with_preheader
from app.services.rendering import CampaignContent, CampaignSettings, CompiledMessage, PatternUrls
from app.services.tracking.aggregator import drain_once, ensure_group
from app.services.tracking.figures import COUNTS, MONEY
from app.services.tracking.offers import OfferLinks
from app.services.tracking.tokens import TrackingKeys, tracking_keys
from app.services.tracking.urls import DeliveryTracker, campaign_utm
from app.settings import get_settings
from tests.factories import make_list, make_subscribers, make_workspace

BASE = "http://127.0.0.1:8000"
HTML = ("<html><body><p>Hello {{ first_name | default('there') }}</p>"
        '<p><a href="https://shop.example.com/spring?ref=mail">Spring picks</a></p>'
        '<p><a href="https://shop.example.com/me?e={{ email }}">Your account</a></p>'
        '<p><a href="{{ offer_url }}">Your offer</a></p>'
        '<p><a href="https://partner.example.com/x" data-no-track>Partner</a></p>'
        '<p><a href="{{ unsubscribe_url }}">Unsubscribe</a></p></body></html>')
UTM = {"utm_source": "ignite", "utm_campaign": "spring"}
URLS = PatternUrls(unsubscribe=f"{BASE}/u/{{delivery_id}}", mailto="mailto:u@example.com",
                   web_version=f"{BASE}/v/{{delivery_id}}")
HREF = re.compile(r'href="([^"]*)"')
PIXEL = re.compile(r'<img src="([^"]*/o/[^"]*)"')


@dataclass
class SentCampaign:
    workspace: dict
    campaign: dict
    deliveries: list[dict]

    def message(self, delivery: dict, fields: dict[str, Any] | None = None, keys: TrackingKeys | None = None,
                offers: OfferLinks | None = None) -> str:
        """The HTML this delivery's recipient got, rendered as the sender renders it with tracking on (and the
        workspace's offer settings, when given)."""
        campaign = self.campaign
        tracker = DeliveryTracker(BASE, keys or tracking_keys(get_settings()), campaign["workspace_id"],
                                  campaign["id"], campaign["snapshot_version"], offers=offers)
        compiled = CompiledMessage(
            CampaignContent(campaign["id"], campaign["snapshot_subject"], with_preheader(campaign["snapshot_html"]),
                            campaign["snapshot_text"]),
            CampaignSettings(from_email=campaign["from_email"], urls=URLS, utm=campaign_utm(campaign),
                             tags={"preheader": ""}, link_rewriter=tracker, open_pixel=tracker))
        subscriber = {"id": delivery["subscriber_id"], "email": delivery["email"], **(fields or {})}
        return compiled.render_parts(subscriber, delivery["id"]).html


# Every figure of a campaign nobody has engaged with yet.
NO_FIGURES = {**dict.fromkeys(COUNTS, 0), **dict.fromkeys(MONEY, Decimal(0))}


def hrefs(html: str) -> list[str]:
    return [unescape(href) for href in HREF.findall(html)]


def pixel(html: str) -> str:
    match = PIXEL.search(html)
    assert match, "no open pixel in the message"
    return unescape(match.group(1))


def path_of(url: str) -> str:
    assert url.startswith(BASE), url
    return url[len(BASE):]


async def sent_campaign(recipients: int = 2, html: str = HTML, workspace: dict | None = None) -> SentCampaign:
    workspace = workspace or await make_workspace()
    mailing_list = await make_list(workspace)
    subscribers = await make_subscribers(mailing_list, recipients)
    moment = now()
    campaign = (await Campaign.insert(Campaign(
        workspace_id=workspace["id"], name="Spring", status="sent", from_email="news@news.example.com",
        subject="Spring", list_ids=[mailing_list["id"]], snapshot_subject="Spring", snapshot_html=html,
        snapshot_version=3, snapshot_at=moment, utm=UTM, created_at=moment, updated_at=moment,
    )).returning(*Campaign.all_columns()))[0]
    deliveries = [(await Delivery.insert(Delivery(
        workspace_id=workspace["id"], campaign_id=campaign["id"], subscriber_id=subscriber["id"],
        # Sent an hour ago: a click seconds after delivery would be a scanner's.
        email=subscriber["email"], status="sent", next_attempt_at=moment, sent_at=moment - timedelta(hours=1),
        created_at=moment, updated_at=moment)).returning(*Delivery.all_columns()))[0] for subscriber in subscribers]
    return SentCampaign(workspace, campaign, deliveries)


async def drain_all(redis: Any, consumer: str = "test", reclaim_after_ms: int = 60_000,
                    before_ack: Callable[[], Awaitable[None]] | None = None) -> int:
    """Run the aggregator until the stream has nothing new; returns the events it recorded."""
    await ensure_group(redis)
    recorded = 0
    while True:
        drained = await drain_once(redis, tracking_keys(get_settings()), consumer, batch_size=500, block_ms=0,
                                   reclaim_after_ms=reclaim_after_ms, before_ack=before_ack)
        recorded += drained.recorded
        if not drained.read:
            return recorded
