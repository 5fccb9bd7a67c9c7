"""Rollup and cost rows for the revenue and P&L tests, written as the rollup writers would leave them."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from app.services.sqlparams import fetch_positional


async def performance_day(workspace_id: int, day: date, *, server_id: int = 0, campaign_id: int = 0,
                          domain_group: str = "", sent: int = 0, human_clicks: int = 0, conversions: int = 0,
                          revenue: str = "0") -> None:
    await fetch_positional(
        "INSERT INTO performance_days (workspace_id, day, server_id, domain_group, campaign_id, sent, human_clicks, "
        "conversions, revenue) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        [workspace_id, day, server_id, domain_group, campaign_id, sent, human_clicks, conversions, Decimal(revenue)])


async def conversion_day(workspace_id: int, day: date, *, campaign_id: int = 0, server_id: int = 0, list_id: int = 0,
                         offer_id: str = "", conversions: int = 1, revenue: str = "0") -> None:
    await fetch_positional(
        "INSERT INTO conversion_days (workspace_id, day, campaign_id, server_id, list_id, offer_id, conversions, "
        "revenue) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        [workspace_id, day, campaign_id, server_id, list_id, offer_id, conversions, Decimal(revenue)])


async def created_on(table: str, row_id: int, when: datetime) -> None:
    """Back-date a row, so costs that count from its creation count from then."""
    assert table in {"delivery_servers", "lists", "imports", "campaigns"}
    await fetch_positional(f"UPDATE {table} SET created_at = $1 WHERE id = $2", [when, row_id])


async def campaign(workspace_id: int, name: str, *, kind: str = "campaign", segment_ids: tuple[int, ...] = ()) -> int:
    [row] = await fetch_positional(
        "INSERT INTO campaigns (workspace_id, name, kind, segment_ids, created_at, updated_at) "
        "VALUES ($1, $2, $3, $4, now(), now()) RETURNING id", [workspace_id, name, kind, list(segment_ids)])
    return row["id"]


async def segment(workspace_id: int, name: str) -> int:
    [row] = await fetch_positional(
        "INSERT INTO segments (workspace_id, name, created_at, updated_at) VALUES ($1, $2, now(), now()) RETURNING id",
        [workspace_id, name])
    return row["id"]


async def flow_step(workspace_id: int, flow_name: str, step_id: str, campaign_id: int) -> int:
    """A flow whose send step `step_id` sent through `campaign_id` (a campaign of kind 'flow')."""
    [flow] = await fetch_positional(
        "INSERT INTO flows (workspace_id, name, created_at, updated_at) VALUES ($1, $2, now(), now()) RETURNING id",
        [workspace_id, flow_name])
    await fetch_positional(
        "INSERT INTO flow_step_campaigns (workspace_id, flow_id, version, step_id, campaign_id) "
        "VALUES ($1, $2, 1, $3, $4)", [workspace_id, flow["id"], step_id, campaign_id])
    return flow["id"]
