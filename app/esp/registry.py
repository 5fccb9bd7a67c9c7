"""Building the adapter for a stored delivery server."""

from __future__ import annotations

from typing import Any

from app.esp.base import EmailServiceProvider
from app.esp.capture import CaptureESP


def adapter_for(server: dict[str, Any], secrets: dict[str, str]) -> EmailServiceProvider:
    """The adapter of the server's kind, configured from its settings and decrypted secrets."""
    kind = server["kind"]
    if kind == "capture":
        return CaptureESP()
    raise ValueError(f"no adapter for server kind {kind!r}")
