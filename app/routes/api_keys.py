"""Settings → API keys: create (shown once), list masked, rotate with a grace period, revoke."""

from __future__ import annotations

from litestar import Controller

CONTROLLERS: list[type[Controller]] = []
