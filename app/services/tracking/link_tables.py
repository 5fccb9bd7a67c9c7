"""Where /c/<token>/<index> leads: the link table of a campaign version, kept in each web process's memory.

The table is worked out from the campaign's frozen snapshot exactly as the sender compiles it (same
sanitising, CSS inlining, link discovery and UTM tagging), so index N is the Nth link of the message that
was sent. That costs one PostgreSQL read and one compilation per process and campaign version, the first
time one of its links is clicked; every later click is a dictionary lookup. Concurrent first clicks wait
for the same compilation. A snapshot never changes once sent, so entries never go stale; the oldest are
dropped past `KEPT` versions.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

from app.db.campaigns import Campaign
from app.services.campaigns.content import variant_content, with_preheader
from app.services.rendering import CampaignContent, CampaignSettings, CompiledMessage, PatternUrls
from app.services.rendering.links import Link
from app.services.tenancy import owned_by
from app.services.tracking.tokens import DeliveryRef, TrackingKeys
from app.services.tracking.urls import DeliveryTracker, campaign_utm, redirectable

KEPT = 512
# The table only needs the links; these stand in for the per-delivery URLs a real message carries.
_NO_URLS = PatternUrls(unsubscribe="https://invalid.invalid/u", mailto="mailto:u@invalid.invalid",
                       web_version="https://invalid.invalid/v")

LinkTable = tuple[str | None, ...]
_tables: OrderedDict[tuple[int, int, int, int], asyncio.Future[LinkTable | None]] = OrderedDict()


def message_links(content: Mapping[str, Any], keys: TrackingKeys) -> tuple[Link, ...]:
    """The links of the campaign version `content` holds, compiled as the sender compiles it, in the order
    their indexes count (the /c/ redirect and the campaign page's click map both go by them)."""
    tracker = DeliveryTracker("https://invalid.invalid", keys, content["workspace_id"], content["id"],
                              content["snapshot_version"], content.get("variant", 0))
    compiled = CompiledMessage(
        CampaignContent(content["id"], content["snapshot_subject"], with_preheader(content["snapshot_html"]),
                        content["snapshot_text"]),
        CampaignSettings(from_email=content["from_email"] or "sender@invalid.invalid", urls=_NO_URLS,
                         utm=campaign_utm(content), tags={"preheader": content["snapshot_preheader"]},
                         link_rewriter=tracker),
    )
    return tuple(compiled.links)


def link_table(content: Mapping[str, Any], keys: TrackingKeys) -> LinkTable:
    """For each link of the compiled snapshot, its URL when /c/ may redirect to it by index, else None.

    Links built per recipient (and links not tracked) are None: those redirect only with a signed URL.
    """
    return tuple(link.url if link.tracked and not link.dynamic and redirectable(link.url) else None
                 for link in message_links(content, keys))


async def sent_content(ref: DeliveryRef) -> Mapping[str, Any] | None:
    """The campaign as this delivery's variant sent it, if that is still the version the token names."""
    campaign = await Campaign.select().where(owned_by(Campaign, ref.workspace_id),
                                             Campaign.id == ref.campaign_id).first()
    if campaign is None or campaign["snapshot_at"] is None:
        return None
    try:
        content = await variant_content(campaign, ref.variant)
    except LookupError:
        return None
    # Not the content this message was sent with: better no redirect (or page) than the wrong one.
    return content if content["snapshot_version"] == ref.version else None


async def _load(ref: DeliveryRef, keys: TrackingKeys) -> LinkTable | None:
    content = await sent_content(ref)
    if content is None:
        return None
    return await asyncio.to_thread(link_table, content, keys)


async def link_url(ref: DeliveryRef, index: int, keys: TrackingKeys) -> str | None:
    """The URL of link `index` in the message `ref` names, or None when there is no such tracked link."""
    key = (ref.workspace_id, ref.campaign_id, ref.version, ref.variant)
    pending = _tables.get(key)
    if pending is None:
        pending = _tables[key] = asyncio.ensure_future(_load(ref, keys))
        while len(_tables) > KEPT:
            _tables.popitem(last=False)
    try:
        table = await asyncio.shield(pending)
    except Exception:
        # A failed load (database down) is tried again by the next click rather than remembered.
        _tables.pop(key, None)
        raise
    return table[index] if table is not None and 0 <= index < len(table) else None


def forget_link_tables() -> None:
    """Drop every table this process holds (tests that reuse ids across a truncated database)."""
    _tables.clear()
