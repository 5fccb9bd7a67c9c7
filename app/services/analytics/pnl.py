"""Profit and loss: revenue minus ESP cost, data cost and the workspace's other costs, per day, campaign,
server and list, today and month to date.

Costs come from `costs` (see there how fixed and monthly amounts are spread over days), revenue from
`revenue`. Only what can be traced to a row is put on it: a campaign carries what its sends cost per 1,000
(fixed, data and other costs belong to no campaign), a server its sends and fixed cost, a list its data cost;
days carry everything, so the days of a period add up to its whole P&L.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from redis.asyncio import Redis

from app.services.analytics import costs, revenue
from app.services.analytics.live import revenue_channel
from app.services.analytics.periods import Period
from app.services.csv_files import CsvRows
from app.services.live import followed

ZERO = Decimal(0)
TABLES = {"day": "Day", "campaign": "Campaign", "server": "Server", "list": "List"}


@dataclass(frozen=True)
class PnlRow:
    key: Any
    label: str
    link: str
    conversions: int
    revenue: Decimal
    esp_cost: Decimal = ZERO
    data_cost: Decimal = ZERO
    other_cost: Decimal = ZERO

    @property
    def cost(self) -> Decimal:
        return self.esp_cost + self.data_cost + self.other_cost

    @property
    def profit(self) -> Decimal:
        return self.revenue - self.cost


def _summed(rows: list[PnlRow], label: str) -> PnlRow:
    return PnlRow(key=None, label=label, link="", conversions=sum(row.conversions for row in rows),
                  revenue=sum((row.revenue for row in rows), ZERO), esp_cost=sum((row.esp_cost for row in rows), ZERO),
                  data_cost=sum((row.data_cost for row in rows), ZERO),
                  other_cost=sum((row.other_cost for row in rows), ZERO))


def _per_key(by_day: Mapping[date, Mapping[int, Decimal]]) -> dict[int, Decimal]:
    totals: dict[int, Decimal] = {}
    for keyed in by_day.values():
        for key, amount in keyed.items():
            totals[key] = totals.get(key, ZERO) + amount
    return totals


async def _days(workspace_id: int, period: Period) -> list[PnlRow]:
    earned = await revenue.breakdown(workspace_id, period, "day")
    esp = await costs.daily_costs(workspace_id, period.since, period.until)
    data = await costs.data_costs(workspace_id, period.since, period.until)
    other = await costs.other_costs(workspace_id, period.since, period.until)
    return [PnlRow(key=row.key, label=row.label, link="", conversions=row.conversions, revenue=row.revenue,
                   esp_cost=sum(esp.get(row.key, {}).values(), ZERO),
                   data_cost=sum(data.get(row.key, {}).values(), ZERO), other_cost=other.get(row.key, ZERO))
            for row in earned]


async def _costs_of(workspace_id: int, period: Period, by: str) -> tuple[dict[Any, Decimal], dict[Any, Decimal]]:
    """(ESP cost, data cost) per key of the table `by`."""
    if by == "campaign":
        return await costs.campaign_costs(workspace_id, period.since, period.until), {}
    if by == "server":
        return await costs.server_costs(workspace_id, period.since, period.until), {}
    return {}, _per_key(await costs.data_costs(workspace_id, period.since, period.until))


async def table(workspace_id: int, period: Period, by: str) -> list[PnlRow]:
    """The P&L of each day of the period (in order), or of each campaign, server or list (most profit first)."""
    if by == "day":
        return await _days(workspace_id, period)
    earned = {row.key: row for row in await revenue.breakdown(workspace_id, period, by)}
    esp, data = await _costs_of(workspace_id, period, by)
    unearned = [key for key in {*esp, *data} if key not in earned]
    labels = await revenue.labels_of(workspace_id, by, unearned)
    rows = []
    for key in [*earned, *unearned]:
        row = earned.get(key)
        label, link = (row.label, row.link) if row else labels[key][:2]
        rows.append(PnlRow(key=key, label=label, link=link, conversions=row.conversions if row else 0,
                           revenue=row.revenue if row else ZERO, esp_cost=esp.get(key, ZERO),
                           data_cost=data.get(key, ZERO)))
    rows.sort(key=lambda row: (-row.profit, str(row.key)))
    return rows


def total(rows: list[PnlRow]) -> PnlRow:
    """The period as a whole, from its days."""
    return _summed(rows, "Total")


@dataclass(frozen=True)
class TodaySummary:
    today: PnlRow
    month: PnlRow
    day: date


async def today_summary(workspace_id: int, today: date | None = None) -> TodaySummary:
    """Today's P&L so far and the month's to date (UTC days), for the live panel and the Analytics overview."""
    day = today or datetime.now(UTC).date()
    days = await _days(workspace_id, Period(day.replace(day=1), day))
    return TodaySummary(today=days[-1], month=_summed(days, "Month to date"), day=day)


async def revenue_changes(redis: Redis, workspace_id: int, idle_seconds: float = 15.0) -> AsyncIterator[bool]:
    """True each time the workspace's revenue changes, False after each quiet spell (time for a keep-alive).

    The first True comes once listening: figures read then miss no later change."""
    ready = True
    async for message in followed(redis, revenue_channel(workspace_id), idle_seconds, announce_ready=True):
        yield ready or message is not None
        ready = False


CSV_COLUMNS = ("key", "name", "conversions", "revenue", "esp_cost", "data_cost", "other_cost", "profit")


async def table_csv(workspace_id: int, period: Period, by: str) -> AsyncIterator[bytes]:
    """A P&L table as CSV, through the one CSV writer."""
    rows = CsvRows(CSV_COLUMNS)
    yield rows.header()
    yield rows.encode((row.key, row.label, row.conversions, row.revenue, _cents(row.esp_cost), _cents(row.data_cost),
                       _cents(row.other_cost), _cents(row.profit)) for row in await table(workspace_id, period, by))


def _cents(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"))
