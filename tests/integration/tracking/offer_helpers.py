"""Messages rendered with the workspace's offer settings, and postbacks as a network sends them."""

from __future__ import annotations

from typing import Any

from httpx import AsyncClient, Response

from app.db.tracking import Conversion
from app.services.campaigns.content import with_preheader
from app.services.rendering import CampaignContent, CampaignSettings, CompiledMessage
from app.services.tracking.offers import offer_links
from app.services.tracking.tokens import tracking_keys
from app.services.tracking.urls import DeliveryTracker, campaign_utm
from app.settings import get_settings
from tests.integration.tracking.helpers import BASE, URLS, SentCampaign

OFFER_HTML = ("<html><body>"
              '<p><a href="https://shop.example.com/spring">Spring picks</a></p>'
              '<p><a href="https://go.offers.example.net/click?oid=7&amp;sub1=newsletter">Fixed offer</a></p>'
              '<p><a href="{{ offer_url }}">Your offer</a></p>'
              '<p><a href="https://go.offers.example.net/skip" data-no-track>Untracked offer</a></p>'
              "</body></html>")


async def offer_message(sent: SentCampaign, delivery: dict, fields: dict[str, Any] | None = None) -> str:
    """The HTML the delivery's recipient got, rendered as the sender does with the workspace's offer settings."""
    campaign = sent.campaign
    tracker = DeliveryTracker(BASE, tracking_keys(get_settings()), campaign["workspace_id"], campaign["id"],
                              campaign["snapshot_version"], offers=await offer_links(campaign["workspace_id"]))
    compiled = CompiledMessage(
        CampaignContent(campaign["id"], campaign["snapshot_subject"], with_preheader(campaign["snapshot_html"]),
                        campaign["snapshot_text"]),
        CampaignSettings(from_email=campaign["from_email"], urls=URLS, utm=campaign_utm(campaign),
                         tags={"preheader": ""}, link_rewriter=tracker, open_pixel=tracker))
    subscriber = {"id": delivery["subscriber_id"], "email": delivery["email"], **(fields or {})}
    return compiled.render_parts(subscriber, delivery["id"]).html


async def postback(client: AsyncClient, **params: Any) -> Response:
    return await client.get("/postback", params={name: str(value) for name, value in params.items()})


def error_code(response: Response) -> str:
    return response.json()["error"]["code"]


async def conversions() -> list[dict]:
    return await Conversion.select().order_by(Conversion.id)
