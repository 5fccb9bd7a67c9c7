"""Lists, custom fields, subscribers, imports and GDPR export/erase through the API.

Every handler parses, calls the service the UI calls, and shapes the answer; ids from the path or body are
looked up in the caller's workspace, so another workspace's list or subscriber is a 404.
"""

from __future__ import annotations

from litestar import Controller

from app.routes.api.audience.common import api_fields
from app.routes.api.audience.imports import ImportsController
from app.routes.api.audience.lists import ListsController
from app.routes.api.audience.shapes import NO_NUL, Email
from app.routes.api.audience.subscribers import PrivacyController, SubscribersController

CONTROLLERS: list[type[Controller]] = [ListsController, SubscribersController, PrivacyController, ImportsController]

__all__ = ["CONTROLLERS", "NO_NUL", "Email", "api_fields"]
