"""Fixtures shared by the renderer's unit tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from app.services.rendering import CampaignContent, CompiledMessage
from tests.unit.rendering.helpers import make_settings


@pytest.fixture
def compile_message() -> Callable[..., CompiledMessage]:
    def build(html: str, subject: str = "Hello", text: str | None = None, **settings: Any) -> CompiledMessage:
        content = CampaignContent(campaign_id=7, subject=subject, html=html, text=text)
        return CompiledMessage(content, make_settings(**settings))

    return build
