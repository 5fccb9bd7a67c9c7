"""Settings → Webhooks: endpoints, their event filters, delivery log, replay and test ping."""

from __future__ import annotations

from litestar import Controller

CONTROLLERS: list[type[Controller]] = []
