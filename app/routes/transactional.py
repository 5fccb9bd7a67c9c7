"""Mailing → Transactional: a searchable log of messages sent through the API."""

from __future__ import annotations

from litestar import Controller

CONTROLLERS: list[type[Controller]] = []
