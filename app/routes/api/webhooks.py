"""Outbound webhook endpoints through the API: define, list, test, read their delivery log."""

from __future__ import annotations

from litestar import Controller

CONTROLLERS: list[type[Controller]] = []
