"""Stand-ins and settings shared by the renderer's unit tests."""

from __future__ import annotations

from typing import Any

from app.services.rendering import CampaignSettings, Link, PatternUrls

URLS = PatternUrls(
    unsubscribe="https://t.example.com/u/{delivery_id}",
    mailto="mailto:unsubscribe+{delivery_id}@bounce.example.com",
    web_version="https://t.example.com/v/{delivery_id}",
)


class RecordingRewriter:
    """A click-tracking stand-in that shows which URL it was given and for which delivery."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, int, str]] = []

    def rewrite(self, url: str, link: Link, delivery_id: str) -> str:
        self.seen.append((url, link.index, delivery_id))
        return f"https://t.example.com/c/{delivery_id}/{link.index}"


class FixedPixel:
    def url(self, delivery_id: str) -> str:
        return f"https://t.example.com/o/{delivery_id}.gif"


def make_settings(**overrides: Any) -> CampaignSettings:
    values: dict[str, Any] = {
        "from_email": "news@mail.example.com",
        "from_name": "Example Shop",
        "urls": URLS,
        "physical_address": "1 Market Street, Springfield",
    }
    values.update(overrides)
    return CampaignSettings(**values)
