"""The lead intake a sponsor or lead vendor posts to: a subscriber, its source, sub-ids and consent."""

from __future__ import annotations

from litestar import Controller

CONTROLLERS: list[type[Controller]] = []
