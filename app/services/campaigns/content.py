"""A campaign's snapshot compiled once per process, version and variant, and the per-delivery links of its messages.

An A/B variant sends its own snapshot (subject, HTML, text, preheader, taken at
launch) and its own from name; variant 0 is the campaign's own snapshot.
The compiled message is shared by every batch of the campaign a worker sends;
only the merge values, the links that name the delivery and the headers change
per message. The Message-ID comes from the delivery id, so a message sent again
after a crash carries the Message-ID of its first copy.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from app.db.audience import MailingList
from app.db.campaigns import CampaignVariant
from app.services.rendering import CampaignContent, CampaignSettings, CompiledMessage, compiled_message
from app.services.sending_domains import RETURN_PATH_PREFIX, signer_for
from app.services.tenancy import owned_by
from app.services.tracking.offers import offer_links
from app.services.tracking.tokens import tracking_keys
from app.services.tracking.urls import DeliveryTracker, campaign_utm
from app.settings import get_settings

_PREHEADER_TAG = re.compile(r"\{\{-?\s*preheader\b")
_BODY_TAG = re.compile(r"<body\b[^>]*>", re.IGNORECASE)
_HIDDEN = '<div style="display:none;max-height:0;overflow:hidden;">{{ preheader }}</div>'
# Settings need the database (DKIM key, postal address); kept beside the compiled messages they built.
_SETTINGS: dict[tuple, CampaignSettings] = {}
_SETTINGS_KEPT = 32
# Each variant's snapshot, read once per process and campaign version.
_VARIANTS: dict[tuple, dict[str, Any]] = {}


@dataclass(frozen=True)
class CampaignUrls:
    """Unsubscribe and web-version links of a campaign's messages.

    Both carry the message's delivery token, the one its tracked links and open pixel carry, signed once
    per message by the tracker: /u/ and /v/ then know the delivery, its campaign and its lists.
    """

    tracker: DeliveryTracker
    domain: str

    def unsubscribe_url(self, delivery_id: str) -> str:
        return f"{self.tracker.base_url}/u/{self.tracker.token(delivery_id)}"

    def unsubscribe_mailto(self, delivery_id: str) -> str:
        """The List-Unsubscribe mailto: the return-path domain's MX is Ignite's inbound receiver, and the subject
        carries the message's signed delivery token (a bare id would let anyone unsubscribe anyone)."""
        return (f"mailto:unsubscribe@{RETURN_PATH_PREFIX}{self.domain}"
                f"?subject=unsubscribe%20{self.tracker.token(delivery_id)}")

    def web_version_url(self, delivery_id: str) -> str:
        return f"{self.tracker.base_url}/v/{self.tracker.token(delivery_id)}"


def content_key(campaign: Mapping[str, Any]) -> tuple:
    """One compiled message per campaign, snapshot and variant, whatever else changes on the row."""
    return ("campaign", campaign["id"], campaign["snapshot_at"].isoformat() if campaign["snapshot_at"] else "",
            campaign.get("variant", 0))


async def variant_content(campaign: Mapping[str, Any], variant: int) -> Mapping[str, Any]:
    """The campaign as a delivery of `variant` sends it: that variant's snapshot and from name over the row."""
    if not variant:
        return campaign
    key = content_key({**campaign, "variant": variant})
    frozen = _VARIANTS.get(key)
    if frozen is None:
        row = await CampaignVariant.select().where(
            owned_by(CampaignVariant, campaign["workspace_id"]), CampaignVariant.campaign_id == campaign["id"],
            CampaignVariant.variant == variant).first()
        if row is None:
            raise LookupError(f"variant {variant} of campaign {campaign['id']}")
        frozen = _VARIANTS[key] = {
            "snapshot_subject": row["snapshot_subject"], "snapshot_html": row["snapshot_html"],
            "snapshot_text": row["snapshot_text"], "snapshot_preheader": row["snapshot_preheader"],
            "snapshot_version": row["snapshot_version"], "from_name": row["from_name"] or campaign["from_name"]}
        while len(_VARIANTS) > _SETTINGS_KEPT:
            del _VARIANTS[next(iter(_VARIANTS))]
    return {**campaign, **frozen, "variant": variant}


def with_preheader(html: str) -> str:
    """The preheader as the hidden first text of the body, unless the template places it itself."""
    if _PREHEADER_TAG.search(html):
        return html
    body = _BODY_TAG.search(html)
    if body is None:
        return _HIDDEN + html
    return html[:body.end()] + _HIDDEN + html[body.end():]


async def _physical_address(workspace_id: int, list_ids: list[int]) -> str:
    """The postal address the law asks for: the company address of the first audience list that has one."""
    if not list_ids:
        return ""
    rows = await MailingList.select(MailingList.company_name, MailingList.company_address).where(
        owned_by(MailingList, workspace_id), MailingList.id.is_in(list_ids), MailingList.company_address != ""
    ).order_by(MailingList.id)
    return ", ".join(part for part in (rows[0]["company_name"], rows[0]["company_address"]) if part) if rows else ""


async def _settings(campaign: Mapping[str, Any], list_ids: list[int]) -> CampaignSettings:
    app = get_settings()
    domain = campaign["from_email"].rpartition("@")[2].lower()
    workspace_id = campaign["workspace_id"]
    # One token per message, shared by the open pixel and every link; /c/ rebuilds the links with the same UTM.
    tracker = DeliveryTracker(app.base_url, tracking_keys(app), workspace_id, campaign["id"],
                              campaign["snapshot_version"], campaign.get("variant", 0),
                              offers=await offer_links(workspace_id))
    return CampaignSettings(
        from_email=campaign["from_email"], from_name=campaign["from_name"], reply_to=campaign["reply_to"] or None,
        sending_domain=domain, physical_address=await _physical_address(workspace_id, list_ids),
        urls=CampaignUrls(tracker, domain),
        # Gmail's Feedback-ID: campaign, workspace, kind, sender.
        feedback_id=f"{campaign['id']}:{workspace_id}:campaign:ignite",
        tags={"preheader": campaign["snapshot_preheader"]},
        dkim=await signer_for(workspace_id, domain),
        utm=campaign_utm(campaign), link_rewriter=tracker, open_pixel=tracker,
    )


async def compiled_campaign(campaign: Mapping[str, Any], list_ids: list[int]) -> CompiledMessage:
    """The campaign's snapshot (or a variant's, from `variant_content`), compiled on first use in this process."""
    key = content_key(campaign)
    settings = _SETTINGS.get(key)
    if settings is None:
        settings = _SETTINGS[key] = await _settings(campaign, list_ids)
        while len(_SETTINGS) > _SETTINGS_KEPT:
            del _SETTINGS[next(iter(_SETTINGS))]
    content = CampaignContent(campaign["id"], campaign["snapshot_subject"],
                              with_preheader(campaign["snapshot_html"]), campaign["snapshot_text"])
    return compiled_message(key, content, settings)


def merge_values(subscriber: Mapping[str, Any]) -> dict[str, Any]:
    """What a template sees of a subscriber: its fields, and its address, id and signup date by name."""
    fields = subscriber.get("fields") or {}
    return {**fields, "id": subscriber["id"], "email": subscriber["email"], "fields": fields,
            "created_at": subscriber["created_at"], "list_id": subscriber["list_id"]}
