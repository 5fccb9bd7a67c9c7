"""API keys through the API itself: list, create, rotate, revoke (scope `admin`)."""

from __future__ import annotations

from litestar import Controller

CONTROLLERS: list[type[Controller]] = []
