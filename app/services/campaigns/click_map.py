"""The click map of a campaign: every tracked link of the message it sent, with its human and robot clicks.

A click event names its link by index in the compiled message (`events.link_index`), so the links are
worked out again from the campaign's frozen snapshot, compiled as the sender compiled it, once per process
and campaign version. A content A/B test sends different messages, so its links are counted per variant
(one join of the click events to their deliveries); any other campaign sends one message.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from app.services import statements
from app.services.campaigns.content import variant_content
from app.services.campaigns.drafts import get_campaign
from app.services.campaigns.variants import variants_of
from app.services.rendering.links import Link
from app.services.tracking.link_tables import message_links
from app.services.tracking.tokens import tracking_keys
from app.settings import get_settings

KEPT = 256
_links: dict[tuple[int, int, int, int], tuple[Link, ...]] = {}


@dataclass(frozen=True)
class LinkClicks:
    variant: int
    index: int
    text: str
    url: str  # as written in the template: a per-recipient link keeps its merge tags
    per_recipient: bool
    clicks: int
    unique_clicks: int
    bot_clicks: int
    share: float | None  # of the variant's human clicks, in percent


async def sent_links(campaign: Mapping[str, Any], variant: int) -> tuple[Link, ...]:
    """The links of what `variant` of the campaign sent (none before its snapshot is taken)."""
    if campaign["snapshot_at"] is None:
        return ()
    content = await variant_content(campaign, variant)
    key = (campaign["workspace_id"], campaign["id"], content["snapshot_version"], variant)
    if key not in _links:
        _links[key] = await asyncio.to_thread(message_links, content, tracking_keys(get_settings()))
        while len(_links) > KEPT:
            del _links[next(iter(_links))]
    return _links[key]


def forget_sent_links() -> None:
    """Drop every list of links this process holds (tests that reuse ids across a truncated database)."""
    _links.clear()


async def _sent_variants(campaign: Mapping[str, Any]) -> list[int]:
    if campaign["ab_dimension"] != "content":
        return [0]
    return [row["variant"] for row in await variants_of(campaign["workspace_id"], campaign["id"])] or [0]


def _counted(variant: int, links: tuple[Link, ...], counts: Mapping[tuple[int, int], Mapping[str, int]]
             ) -> list[LinkClicks]:
    # A link whose whole href is a merge tag is tracked or not per message (by what it renders to), so it
    # is shown once it has been clicked.
    tracked = [link for link in links if link.tracked or (link.merged and (variant, link.index) in counts)]
    total = sum(counts.get((variant, link.index), {}).get("clicks", 0) for link in tracked)
    shown = []
    for link in tracked:
        found = counts.get((variant, link.index), {})
        clicks = found.get("clicks", 0)
        shown.append(LinkClicks(variant, link.index, link.text, link.url, link.dynamic or link.merged, clicks,
                                found.get("unique_clicks", 0), found.get("bot_clicks", 0),
                                round(100 * clicks / total, 1) if total else None))
    return shown


async def click_map(workspace_id: int, campaign_id: int) -> list[LinkClicks]:
    """Each tracked link of each message the campaign sent, in message order, with its clicks so far."""
    campaign = await get_campaign(workspace_id, campaign_id)
    variants = await _sent_variants(campaign)
    name = "engagement.click-map-by-variant" if campaign["ab_dimension"] == "content" else "engagement.click-map"
    counts = {(row["variant"], row["link_index"]): row for row in await statements.run(name, workspace_id, campaign_id)}
    shown: list[LinkClicks] = []
    for variant in variants:
        shown.extend(_counted(variant, await sent_links(campaign, variant), counts))
    return shown
