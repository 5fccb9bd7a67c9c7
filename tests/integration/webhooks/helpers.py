"""Shared steps of the webhook tests: an endpoint on a workspace that may post to loopback, due times moved."""

from __future__ import annotations

from app.services.sqlparams import fetch_positional
from app.services.webhooks import endpoints


async def loopback_endpoint(workspace: dict, url: str,
                            events: tuple[str, ...] = ("message.bounced",)) -> tuple[dict, str]:
    await endpoints.allow_private_targets(workspace["id"], True)
    return await endpoints.create_endpoint(workspace["id"], {"url": url, "events": list(events)})


async def deliveries(workspace: dict) -> list[dict]:
    return await fetch_positional("SELECT * FROM webhook_deliveries WHERE workspace_id = $1 ORDER BY id",
                                  [workspace["id"]])


async def make_due(workspace: dict) -> None:
    """Every waiting delivery's retry time moved to now, instead of sleeping through the backoff."""
    await fetch_positional("UPDATE webhook_deliveries SET next_attempt_at = now() - interval '1 second' "
                           "WHERE workspace_id = $1 AND status = 'pending'", [workspace["id"]])
