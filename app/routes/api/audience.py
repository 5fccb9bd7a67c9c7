"""Lists, custom fields, subscribers, imports and GDPR export/erase through the API."""

from __future__ import annotations

from litestar import Controller

CONTROLLERS: list[type[Controller]] = []
