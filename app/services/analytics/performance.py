"""ESP performance: each delivery server's figures side by side, per domain group, per day and per campaign,
read from `performance_days` only (never deliveries or events).

Rates are over messages the server accepted (`sent`), but the accepted rate, which is accepted over accepted
plus failed. A provider whose bounces and complaints keep arriving for days (SES: up to 72 hours) has its
figures for the last three days marked provisional.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field, fields
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from app.db.delivery import DeliveryServer
from app.services.analytics.costs import daily_costs
from app.services.analytics.periods import Period
from app.services.csv_files import CsvRows
from app.services.sqlparams import Params, fetch
from app.services.tenancy import checked_workspace_id, owned_by

# How long each provider's feedback keeps arriving after a send.
LATE_FEEDBACK = {"ses": timedelta(hours=72)}
UNKNOWN_SERVER = "Unknown server"
MOST_COMPARED = 6
_SUMS = ("sent", "failed", "deferred", "hard", "soft", "block", "complaints", "human_opens", "unique_opens",
         "machine_opens", "human_clicks", "unique_clicks", "bot_clicks", "unsubscribes", "conversions", "revenue")


@dataclass
class Figures:
    """One server's (or group's, or campaign's) totals over a period."""

    sent: int = 0
    failed: int = 0
    deferred: int = 0
    hard: int = 0
    soft: int = 0
    block: int = 0
    complaints: int = 0
    human_opens: int = 0
    unique_opens: int = 0
    machine_opens: int = 0
    human_clicks: int = 0
    unique_clicks: int = 0
    bot_clicks: int = 0
    unsubscribes: int = 0
    conversions: int = 0
    revenue: Decimal = Decimal(0)
    cost: Decimal = Decimal(0)

    @classmethod
    def of(cls, row: Mapping[str, Any], cost: Decimal = Decimal(0)) -> Figures:
        counts = {name: row[name] or 0 for name in _SUMS if name != "revenue"}
        return cls(**counts, revenue=row["revenue"] or Decimal(0), cost=cost)

    def _share(self, count: int) -> float | None:
        return count / self.sent if self.sent else None

    @property
    def bounces(self) -> int:
        return self.hard + self.soft + self.block

    @property
    def accepted_rate(self) -> float | None:
        tried = self.sent + self.failed
        return self.sent / tried if tried else None

    @property
    def bounce_rate(self) -> float | None:
        return self._share(self.bounces)

    @property
    def complaint_rate(self) -> float | None:
        return self._share(self.complaints)

    @property
    def open_rate(self) -> float | None:
        return self._share(self.unique_opens)

    @property
    def click_rate(self) -> float | None:
        return self._share(self.unique_clicks)

    @property
    def ecpm(self) -> Decimal | None:
        """Revenue per 1,000 messages sent."""
        return self.revenue * 1000 / self.sent if self.sent else None


@dataclass
class ServerRow:
    server_id: int
    name: str
    kind: str
    figures: Figures
    provisional: bool = False


@dataclass
class GroupRow:
    server_id: int
    server_name: str
    domain_group: str
    figures: Figures


@dataclass
class CampaignRow:
    campaign_id: int
    name: str
    figures: Figures


@dataclass
class Trend:
    """One compared server's figures day by day over the period."""

    server: ServerRow
    days: list[date]
    sent: list[int] = field(default_factory=list)
    ecpm: list[float] = field(default_factory=list)
    complaint_rate: list[float] = field(default_factory=list)
    open_rate: list[float] = field(default_factory=list)


def _sums(alias: str = "p") -> str:
    # Sums of bigint columns come back as numeric: the counts are cast back, so they format as whole numbers.
    return ", ".join(f"sum({alias}.{name}){'' if name == 'revenue' else '::bigint'} AS {name}" for name in _SUMS)


def _in_period(params: Params, workspace_id: int, period: Period) -> str:
    workspace = params.add(checked_workspace_id(workspace_id))
    return f"p.workspace_id = {workspace} AND p.day BETWEEN {params.add(period.since)} AND {params.add(period.until)}"


async def _servers(workspace_id: int) -> dict[int, dict[str, Any]]:
    rows = await DeliveryServer.select(DeliveryServer.id, DeliveryServer.name, DeliveryServer.kind).where(
        owned_by(DeliveryServer, workspace_id)).order_by(DeliveryServer.name)
    return {row["id"]: row for row in rows}


def provisional(kind: str, period: Period, today: date | None = None) -> bool:
    """Whether the period reaches into the days whose feedback from this provider may still arrive."""
    late = LATE_FEEDBACK.get(kind)
    if late is None:
        return False
    today = today or datetime.now(UTC).date()
    return period.until > today - timedelta(days=late.days)


async def _server_costs(workspace_id: int, period: Period) -> dict[int, Decimal]:
    totals: dict[int, Decimal] = defaultdict(Decimal)
    for servers in (await daily_costs(workspace_id, period.since, period.until)).values():
        for server_id, cost in servers.items():
            totals[server_id] += cost
    return totals


async def matrix(workspace_id: int, period: Period) -> list[ServerRow]:
    """Every server with traffic in the period (and any the rollups name but the workspace deleted), busiest
    first."""
    params = Params()
    rows = await fetch(f"SELECT p.server_id, {_sums()} FROM performance_days p "
                       f"WHERE {_in_period(params, workspace_id, period)} GROUP BY p.server_id", params)
    servers = await _servers(workspace_id)
    costs = await _server_costs(workspace_id, period)
    found = []
    for row in rows:
        server = servers.get(row["server_id"], {"name": UNKNOWN_SERVER, "kind": ""})
        found.append(ServerRow(row["server_id"], server["name"], server["kind"],
                               Figures.of(row, costs.get(row["server_id"], Decimal(0))),
                               provisional(server["kind"], period)))
    return sorted(found, key=lambda found_row: (-found_row.figures.sent, found_row.name))


async def by_domain_group(workspace_id: int, period: Period, server_ids: list[int] | None = None) -> list[GroupRow]:
    """Each (server, domain group) with traffic in the period, by server name then busiest group."""
    params = Params()
    chosen = f" AND p.server_id = ANY({params.add(server_ids)}::integer[])" if server_ids else ""
    where = _in_period(params, workspace_id, period) + chosen
    rows = await fetch(f"SELECT p.server_id, p.domain_group, {_sums()} FROM performance_days p WHERE {where} "
                       "GROUP BY p.server_id, p.domain_group", params)
    servers = await _servers(workspace_id)
    found = [GroupRow(row["server_id"], servers.get(row["server_id"], {"name": UNKNOWN_SERVER})["name"],
                      row["domain_group"], Figures.of(row)) for row in rows]
    return sorted(found, key=lambda group: (group.server_name, -group.figures.sent, group.domain_group))


async def server_of(workspace_id: int, server_id: int) -> ServerRow:
    """The workspace's server (LookupError when it is not one), without figures."""
    row = await DeliveryServer.select(DeliveryServer.id, DeliveryServer.name, DeliveryServer.kind).where(
        owned_by(DeliveryServer, workspace_id), DeliveryServer.id == server_id).first()
    if row is None:
        raise LookupError(f"no server {server_id}")
    return ServerRow(row["id"], row["name"], row["kind"], Figures())


async def server_campaigns(workspace_id: int, period: Period, server_id: int) -> list[CampaignRow]:
    """What the server sent for each campaign in the period, busiest first (0: mail of no campaign)."""
    params = Params()
    where = _in_period(params, workspace_id, period) + f" AND p.server_id = {params.add(server_id)}"
    rows = await fetch(
        f"SELECT p.campaign_id, c.name, {_sums()} FROM performance_days p "
        "LEFT JOIN campaigns c ON c.id = p.campaign_id AND c.workspace_id = p.workspace_id "
        f"WHERE {where} GROUP BY p.campaign_id, c.name ORDER BY sum(p.sent) DESC, p.campaign_id", params)
    return [CampaignRow(row["campaign_id"], row["name"] or ("No campaign" if not row["campaign_id"]
                                                             else "Deleted campaign"), Figures.of(row))
            for row in rows]


async def compared_ids(workspace_id: int, text: str) -> list[int]:
    """The servers `?servers=1,2` names, each checked against the workspace (LookupError when one is not
    its); at most MOST_COMPARED, in the order given."""
    ids: list[int] = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        if not part.isdigit() or int(part) > 2**31 - 1:
            raise LookupError(f"no server {part!r}")
        if int(part) not in ids:
            ids.append(int(part))
    servers = await _servers(workspace_id)
    if any(server_id not in servers for server_id in ids):
        raise LookupError("a compared server is not this workspace's")
    return ids[:MOST_COMPARED]


async def trends(workspace_id: int, period: Period, server_ids: list[int]) -> list[Trend]:
    """Day by day figures of each compared server, every day of the period present (0 on quiet days)."""
    if not server_ids:
        return []
    params = Params()
    where = _in_period(params, workspace_id, period) + f" AND p.server_id = ANY({params.add(server_ids)}::integer[])"
    rows = await fetch(f"SELECT p.server_id, p.day, {_sums()} FROM performance_days p WHERE {where} "
                       "GROUP BY p.server_id, p.day", params)
    per_day = {(row["server_id"], row["day"]): Figures.of(row) for row in rows}
    servers = await _servers(workspace_id)
    days = period.dates()
    found = []
    for server_id in server_ids:
        server = servers[server_id]
        trend = Trend(ServerRow(server_id, server["name"], server["kind"], Figures(),
                                provisional(server["kind"], period)), days)
        for day in days:
            figures = per_day.get((server_id, day), Figures())
            trend.sent.append(figures.sent)
            trend.ecpm.append(float(figures.ecpm or 0))
            trend.complaint_rate.append(100 * (figures.complaint_rate or 0))
            trend.open_rate.append(100 * (figures.open_rate or 0))
        found.append(trend)
    return found


CSV_COLUMNS = ("server", "kind", "provisional", "sent", "failed", "accepted_rate", "deferred", "hard", "soft",
               "block", "complaints", "complaint_rate", "human_opens", "unique_opens", "machine_opens",
               "human_clicks", "unique_clicks", "bot_clicks", "unsubscribes", "conversions", "revenue", "cost",
               "ecpm")


def _rate(value: float | None) -> str:
    return "" if value is None else f"{value:.6f}"


def csv_row(row: ServerRow) -> tuple[Any, ...]:
    figures = row.figures
    counted = {item.name: getattr(figures, item.name) for item in fields(Figures)}
    return (row.name, row.kind, "yes" if row.provisional else "no", figures.sent, figures.failed,
            _rate(figures.accepted_rate), figures.deferred, figures.hard, figures.soft, figures.block,
            figures.complaints, _rate(figures.complaint_rate),
            *(counted[name] for name in ("human_opens", "unique_opens", "machine_opens", "human_clicks",
                                          "unique_clicks", "bot_clicks", "unsubscribes", "conversions")),
            figures.revenue, figures.cost.quantize(Decimal("0.0001")),
            "" if figures.ecpm is None else figures.ecpm.quantize(Decimal("0.0001")))


async def matrix_csv(workspace_id: int, period: Period) -> AsyncIterator[bytes]:
    """The matrix as CSV, through the one CSV writer."""
    writer = CsvRows(CSV_COLUMNS)
    yield writer.header()
    yield writer.encode(csv_row(row) for row in await matrix(workspace_id, period))
