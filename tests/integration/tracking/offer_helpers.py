"""Messages rendered with the workspace's offer settings, and postbacks as a network sends them."""

from __future__ import annotations

from typing import Any

from httpx import AsyncClient, Response

from app.db.tracking import Conversion
from app.services.tracking.offers import offer_links
from tests.integration.tracking.helpers import SentCampaign

OFFER_HTML = ("<html><body>"
              '<p><a href="https://shop.example.com/spring">Spring picks</a></p>'
              '<p><a href="https://go.offers.example.net/click?oid=7&amp;sub1=newsletter">Fixed offer</a></p>'
              '<p><a href="{{ offer_url }}">Your offer</a></p>'
              '<p><a href="https://go.offers.example.net/skip" data-no-track>Untracked offer</a></p>'
              "</body></html>")


async def offer_message(sent: SentCampaign, delivery: dict, fields: dict[str, Any] | None = None) -> str:
    """The HTML the delivery's recipient got, rendered as the sender does with the workspace's offer settings."""
    return sent.message(delivery, fields, offers=await offer_links(sent.campaign["workspace_id"]))


async def postback(client: AsyncClient, **params: Any) -> Response:
    return await client.get("/postback", params={name: str(value) for name, value in params.items()})


def error_code(response: Response) -> str:
    return response.json()["error"]["code"]


async def conversions() -> list[dict]:
    return await Conversion.select().order_by(Conversion.id)
