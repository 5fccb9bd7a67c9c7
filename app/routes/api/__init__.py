"""The JSON API under /api/v1: every controller, authenticated by API key (app/web/api_auth.py)."""

from __future__ import annotations

from litestar import Controller

from app.routes.api import audience, content, keys, leads, messages, webhooks
from app.routes.api.root import ApiRootController

API_CONTROLLERS: list[type[Controller]] = [
    ApiRootController,
    *keys.CONTROLLERS,
    *messages.CONTROLLERS,
    *audience.CONTROLLERS,
    *leads.CONTROLLERS,
    *content.CONTROLLERS,
    *webhooks.CONTROLLERS,
]
