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
