"""The JSON API under /api/v1: every controller, authenticated by API key (app/web/api_auth.py)."""

from __future__ import annotations

from litestar import Controller

from app.routes.api import (
    audience,
    campaigns,
    events,
    keys,
    leads,
    messages,
    segments,
    servers,
    statistics,
    suppression,
    templates,
    webhooks,
)
from app.routes.api.root import ApiRootController

API_CONTROLLERS: list[type[Controller]] = [
    ApiRootController,
    *keys.CONTROLLERS,
    *messages.CONTROLLERS,
    *audience.CONTROLLERS,
    *leads.CONTROLLERS,
    *segments.CONTROLLERS,
    *suppression.CONTROLLERS,
    *templates.CONTROLLERS,
    *campaigns.CONTROLLERS,
    *servers.CONTROLLERS,
    *statistics.CONTROLLERS,
    *webhooks.CONTROLLERS,
    *events.CONTROLLERS,
]
