"""Building the adapter for a stored delivery server."""

from __future__ import annotations

from typing import Any

from app.esp.base import EmailServiceProvider
from app.esp.capture import CaptureESP
from app.esp.http_api import HttpApiConfig, HttpApiESP
from app.esp.ses import SesConfig, SesESP
from app.esp.smtp import Security, SmtpConfig, SmtpESP


def adapter_for(server: dict[str, Any], secrets: dict[str, str]) -> EmailServiceProvider:
    """The adapter of the server's kind, configured from its settings and decrypted secrets."""
    kind = server["kind"]
    settings = server.get("settings") or {}
    if kind == "capture":
        return CaptureESP()
    if kind == "smtp":
        return SmtpESP(SmtpConfig(
            host=settings["host"], port=int(settings.get("port") or 587),
            security=Security(settings.get("security") or "starttls"), username=settings.get("username", ""),
            password=secrets.get("password", ""), pool_size=int(settings.get("pool_size") or 4),
            virtual_mta=settings.get("virtual_mta", ""), timeout=15.0,
        ))
    if kind == "ses":
        return SesESP(SesConfig(
            region=settings.get("region") or "us-east-1", access_key_id=secrets.get("access_key_id", ""),
            secret_access_key=secrets.get("secret_access_key", ""),
            configuration_set=settings.get("configuration_set", ""),
            endpoint_url=settings.get("endpoint_url") or None,
        ))
    if kind == "http_api":
        return HttpApiESP(HttpApiConfig(
            provider=settings["provider"], api_key=secrets.get("api_key", ""), base_url=settings["api_url"],
            domain=settings.get("domain", ""),
        ))
    raise ValueError(f"no adapter for server kind {kind!r}")
