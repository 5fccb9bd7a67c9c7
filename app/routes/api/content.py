"""Segments, suppression, templates, campaigns, delivery servers and statistics through the API."""

from __future__ import annotations

from litestar import Controller

CONTROLLERS: list[type[Controller]] = []
