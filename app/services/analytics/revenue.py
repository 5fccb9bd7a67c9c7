"""Revenue: conversions and what they earned, by campaign, offer, server, list, segment, automation step and
day, with EPC (revenue per human click), eCPM (revenue per 1,000 sent) and revenue per subscriber.

Read from the rollups only: money from `conversion_days`, mail (sent, human clicks) from `performance_days`.
A campaign sent to two segments counts in both segments' rows; an automation step is the campaigns its
published versions sent through (`flow_step_campaigns`). Revenue per subscriber divides by a list's
subscribers today (`list_counters`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from app.services.analytics.periods import Period
from app.services.csv_files import CsvRows
from app.services.sqlparams import Params, fetch
from app.services.tenancy import checked_workspace_id

TOP = 10


@dataclass(frozen=True)
class Dimension:
    title: str
    # The row key on conversion_days `c` (with `money_join`) and on performance_days `p` (with `mail_join`);
    # no mail key: mail is not kept at that grain (offers, lists).
    money_key: str
    mail_key: str | None = None
    money_join: str = ""
    mail_join: str = ""


_STEP_JOIN = ("JOIN flow_step_campaigns f ON f.campaign_id = {alias}.campaign_id "
              "AND f.workspace_id = {alias}.workspace_id")
_SEGMENT_JOIN = ("JOIN campaigns k ON k.id = {alias}.campaign_id AND k.workspace_id = {alias}.workspace_id "
                 "CROSS JOIN unnest(k.segment_ids) AS segment(id)")

DIMENSIONS: dict[str, Dimension] = {
    "campaign": Dimension("Campaign", "c.campaign_id", "p.campaign_id"),
    "offer": Dimension("Offer", "c.offer_id"),
    "server": Dimension("Server", "c.server_id", "p.server_id"),
    "list": Dimension("List", "c.list_id"),
    "segment": Dimension("Segment", "segment.id", "segment.id", _SEGMENT_JOIN.format(alias="c"),
                         _SEGMENT_JOIN.format(alias="p")),
    "step": Dimension("Automation step", "f.flow_id || ':' || f.step_id", "f.flow_id || ':' || f.step_id",
                      _STEP_JOIN.format(alias="c"), _STEP_JOIN.format(alias="p")),
    "day": Dimension("Day", "c.day", "p.day"),
}


@dataclass(frozen=True)
class RevenueRow:
    key: Any
    label: str
    link: str
    conversions: int
    revenue: Decimal
    sent: int | None
    human_clicks: int | None
    subscribers: int | None = None

    @property
    def epc(self) -> Decimal | None:
        return self.revenue / self.human_clicks if self.human_clicks else None

    @property
    def ecpm(self) -> Decimal | None:
        return self.revenue * 1000 / self.sent if self.sent else None

    @property
    def per_subscriber(self) -> Decimal | None:
        return self.revenue / self.subscribers if self.subscribers else None


def _in_period(alias: str, params: Params, workspace_id: int, period: Period) -> str:
    return (f"{alias}.workspace_id = {params.add(checked_workspace_id(workspace_id))} "
            f"AND {alias}.day BETWEEN {params.add(period.since)} AND {params.add(period.until)}")


async def _figures(workspace_id: int, period: Period, dimension: Dimension) -> list[dict[str, Any]]:
    """conversions, revenue, sent and human clicks per key of the dimension (sent None: not kept per key)."""
    params = Params()
    money = (f"SELECT {dimension.money_key} AS key, sum(c.conversions)::bigint AS conversions, "
             f"sum(c.revenue) AS revenue FROM conversion_days c {dimension.money_join} "
             f"WHERE {_in_period('c', params, workspace_id, period)} GROUP BY 1")
    if dimension.mail_key is None:
        return [{**row, "sent": None, "human_clicks": None} for row in await fetch(money, params)]
    mail = (f"SELECT {dimension.mail_key} AS key, sum(p.sent)::bigint AS sent, "
            f"sum(p.human_clicks)::bigint AS human_clicks FROM performance_days p {dimension.mail_join} "
            f"WHERE {_in_period('p', params, workspace_id, period)} GROUP BY 1")
    return await fetch(
        f"WITH money AS ({money}), mail AS ({mail}) "
        "SELECT key, coalesce(money.conversions, 0) AS conversions, coalesce(money.revenue, 0) AS revenue, "
        "coalesce(mail.sent, 0) AS sent, coalesce(mail.human_clicks, 0) AS human_clicks "
        "FROM money FULL JOIN mail USING (key)", params)


async def _names(workspace_id: int, sql: str, ids: list[Any]) -> dict[Any, dict[str, Any]]:
    if not ids:
        return {}
    params = Params()
    rows = await fetch(sql.format(workspace=params.add(checked_workspace_id(workspace_id)), ids=params.add(ids)),
                       params)
    return {row["id"]: row for row in rows}


async def labels_of(workspace_id: int, by: str, keys: list[Any]) -> dict[Any, tuple[str, str, int | None]]:
    """Each key's name, the page it links to and, for a list, its subscribers today."""
    if by == "campaign":
        named = await _names(workspace_id, "SELECT id, name FROM campaigns WHERE workspace_id = {workspace} "
                             "AND id = ANY({ids})", [key for key in keys if key])
        return {key: (named[key]["name"], f"/mailing/campaigns/{key}", None) if key in named
                else ("No campaign" if not key else f"Deleted campaign #{key}", "", None) for key in keys}
    if by == "server":
        named = await _names(workspace_id, "SELECT id, name FROM delivery_servers WHERE workspace_id = {workspace} "
                             "AND id = ANY({ids})", [key for key in keys if key])
        return {key: (named[key]["name"], f"/analytics/esp-performance/servers/{key}", None) if key in named
                else ("Unknown server" if not key else f"Deleted server #{key}", "", None) for key in keys}
    if by == "list":
        named = await _names(workspace_id, "SELECT l.id, l.name, coalesce(n.total, 0) AS total FROM lists l "
                             "LEFT JOIN list_counters n ON n.list_id = l.id WHERE l.workspace_id = {workspace} "
                             "AND l.id = ANY({ids})", [key for key in keys if key])
        return {key: (named[key]["name"], f"/mailing/lists/{key}", named[key]["total"]) if key in named
                else ("No list" if not key else f"Deleted list #{key}", "", None) for key in keys}
    if by == "segment":
        named = await _names(workspace_id, "SELECT id, name FROM segments WHERE workspace_id = {workspace} "
                             "AND id = ANY({ids})", keys)
        return {key: (named[key]["name"], f"/mailing/segments/{key}", None) if key in named
                else (f"Deleted segment #{key}", "", None) for key in keys}
    if by == "step":
        flows = await _names(workspace_id, "SELECT id, name FROM flows WHERE workspace_id = {workspace} "
                             "AND id = ANY({ids})", sorted({int(key.split(":")[0]) for key in keys}))
        labels = {}
        for key in keys:
            flow_id, step_id = key.split(":", 1)
            flow = flows.get(int(flow_id), {"name": f"Flow #{flow_id}"})
            labels[key] = (f"{flow['name']}: step {step_id}", f"/mailing/automations/{flow_id}", None)
        return labels
    if by == "offer":
        return {key: (f"Offer {key}" if key else "No offer", "", None) for key in keys}
    return {key: (key.isoformat(), "", None) for key in keys}


async def breakdown(workspace_id: int, period: Period, by: str, limit: int | None = None) -> list[RevenueRow]:
    """Rows of the dimension `by` (a key of DIMENSIONS), most revenue first (days in order, every day of the
    period); the first `limit` when given."""
    dimension = DIMENSIONS[by]
    figures = await _figures(workspace_id, period, dimension)
    if by == "day":
        found = {row["key"]: row for row in figures}
        figures = [found.get(day, {"key": day, "conversions": 0, "revenue": Decimal(0), "sent": 0, "human_clicks": 0})
                   for day in period.dates()]
    else:
        figures.sort(key=lambda row: (-row["revenue"], -row["conversions"], -(row["sent"] or 0), str(row["key"])))
        figures = figures[:limit] if limit else figures
    labels = await labels_of(workspace_id, by, [row["key"] for row in figures])
    return [RevenueRow(key=row["key"], label=labels[row["key"]][0], link=labels[row["key"]][1],
                       conversions=row["conversions"], revenue=row["revenue"], sent=row["sent"],
                       human_clicks=row["human_clicks"], subscribers=labels[row["key"]][2]) for row in figures]


async def totals(workspace_id: int, period: Period) -> RevenueRow:
    """The whole workspace over the period; revenue per subscriber over all of its lists' subscribers today."""
    params = Params()
    [money] = await fetch(
        "SELECT coalesce(sum(conversions), 0)::bigint AS conversions, coalesce(sum(revenue), 0) AS revenue "
        f"FROM conversion_days c WHERE {_in_period('c', params, workspace_id, period)}", params)
    params = Params()
    [mail] = await fetch(
        "SELECT coalesce(sum(sent), 0)::bigint AS sent, coalesce(sum(human_clicks), 0)::bigint AS human_clicks "
        f"FROM performance_days p WHERE {_in_period('p', params, workspace_id, period)}", params)
    params = Params()
    [audience] = await fetch(
        "SELECT coalesce(sum(n.total), 0)::bigint AS subscribers FROM list_counters n JOIN lists l ON l.id = n.list_id "
        f"WHERE n.workspace_id = {params.add(checked_workspace_id(workspace_id))} AND l.archived_at IS NULL", params)
    return RevenueRow(key=None, label="All", link="", conversions=money["conversions"], revenue=money["revenue"],
                      sent=mail["sent"], human_clicks=mail["human_clicks"], subscribers=audience["subscribers"])


CSV_COLUMNS = ("key", "name", "conversions", "revenue", "sent", "human_clicks", "epc", "ecpm", "subscribers",
               "revenue_per_subscriber")


def csv_row(row: RevenueRow) -> tuple[Any, ...]:
    return (row.key, row.label, row.conversions, row.revenue, row.sent, row.human_clicks, _money(row.epc),
            _money(row.ecpm), row.subscribers, _money(row.per_subscriber))


def _money(value: Decimal | None) -> Decimal | None:
    return None if value is None else value.quantize(Decimal("0.0001"))


async def breakdown_csv(workspace_id: int, period: Period, by: str) -> AsyncIterator[bytes]:
    """Every row of the dimension as CSV, through the one CSV writer."""
    rows = CsvRows(CSV_COLUMNS)
    yield rows.header()
    yield rows.encode(csv_row(row) for row in await breakdown(workspace_id, period, by))
