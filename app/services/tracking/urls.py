"""The tracked URLs of one campaign version: the renderer's link rewriter and open pixel.

One `DeliveryTracker` is built per compiled campaign version (it knows the workspace, campaign, version
and variant); per message only the delivery id changes. The token is signed once per message and reused
for the pixel and every link: the renderer asks for each URL separately, so the last token made is kept.
Threads sharing the compiled message may race on that one slot, which costs at most a second signature.

- a link written in the template: `/c/<token>/<index>`; the URL comes from the version's link table;
- a link whose URL is built per recipient: `/c/<token>/<index>/<signature>?u=<url>`, the signature
  binding the URL to this token and link, so the endpoint never redirects anywhere else;
- an offer link (app/services/tracking/offers.py): its URL with the workspace's sub-id parameters set to
  this campaign, subscriber and delivery, then as a link built per recipient;
- the open pixel: `/o/<token>`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from app.services.rendering.links import Link, checked_url
from app.services.tracking.offers import OfferLinks, with_sub_ids
from app.services.tracking.tokens import DeliveryRef, TrackingKeys, delivery_token, url_signature

_REDIRECTABLE = re.compile(r"https?://[^\s\x00-\x1f\x7f]+\Z", re.IGNORECASE)


def redirectable(url: str) -> bool:
    """Whether /c/ may send someone to `url`: http or https, with no whitespace or control characters."""
    return bool(_REDIRECTABLE.match(url))


class DeliveryTracker:
    """LinkRewriter, OfferRewriter and OpenPixel for one campaign version (app/services/rendering/links.py).

    `offers` are the workspace's sub-id names and offer domains (`offers.offer_links`); without them,
    links marked `data-offer` carry the default names."""

    def __init__(self, base_url: str, keys: TrackingKeys, workspace_id: int, campaign_id: int,
                 version: int, variant: int = 0, offers: OfferLinks | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.keys = keys
        self.offers = offers or OfferLinks()
        self._campaign = (workspace_id, campaign_id, version, variant)
        self._last: tuple[str, str] = ("", "")

    def token(self, delivery_id: str) -> str:
        last_delivery, last_token = self._last
        if last_delivery == delivery_id:
            return last_token
        token = delivery_token(self.keys, DeliveryRef(*self._campaign, int(delivery_id)))
        self._last = (delivery_id, token)
        return token

    def url(self, delivery_id: str) -> str:
        return f"{self.base_url}/o/{self.token(delivery_id)}"

    def rewrite(self, url: str, link: Link, delivery_id: str) -> str:
        if not link.dynamic:
            return f"{self.base_url}/c/{self.token(delivery_id)}/{link.index}"
        return self._personal(url, link, delivery_id)

    def _personal(self, url: str, link: Link, delivery_id: str) -> str:
        if not redirectable(url):
            # Merged into something that is not a web address: never through the redirect.
            return checked_url(url)
        token = self.token(delivery_id)
        signature = url_signature(self.keys, token, link.index, url)
        return f"{self.base_url}/c/{token}/{link.index}/{signature}?u={quote(url, safe='')}"

    def is_offer(self, url: str, link: Link) -> bool:
        return link.offer or self.offers.is_offer_url(url)

    def rewrite_offer(self, url: str, link: Link, delivery_id: str, subscriber_id: str) -> str:
        if not redirectable(url):
            return checked_url(url)
        tagged = with_sub_ids(url, self.offers.sub_ids(self._campaign[1], subscriber_id, delivery_id))
        return self._personal(tagged, link, delivery_id)


def campaign_utm(campaign: Mapping[str, Any]) -> dict[str, str]:
    """The UTM parameters the campaign's links carry; the sender must tag links with the same ones."""
    utm = campaign.get("utm") or {}
    # Piccolo hands JSONB columns over as text.
    utm = json.loads(utm) if isinstance(utm, str) else utm
    return {key: str(value) for key, value in utm.items() if value}
