"""What sending and data cost, day by day, and the cost settings behind it.

- ESP cost: each server's `cost_per_thousand` times what it sent (from `performance_days`), plus its fixed
  `monthly_cost`, counted from the day the server was added.
- Data cost: each list's monthly cost (`list_costs`), counted from the day the list was made, plus each
  import's `data_cost` on the day it was imported, to its list (0: an import into no list).
- Other costs: the workspace's extras, monthly from a date or once on a date.

A monthly amount is spread over its month's days (a day of June costs 1/30 of it, of July 1/31), so any whole
month adds up to the amount. Costs use today's prices for past days: prices are not kept as a history.
Ranges are UTC days from `since` to `until`, both included.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from app.services.delivery_servers import LARGEST_COST
from app.services.forms import FormError
from app.services.sqlparams import Params, fetch
from app.services.tenancy import checked_workspace_id

CENT = Decimal("0.01")
_PLAIN_NUMBER = re.compile(r"-?(?:\d+(?:\.\d*)?|\.\d+)")
_THOUSANDS = re.compile(r"-?\d{1,3}(?:,\d{3})+(?:\.\d*)?")
# monthly_cost, list_costs.monthly_cost, imports.data_cost and cost_extras.amount are numeric(12, 2).
LARGEST_AMOUNT = Decimal("9999999999.99")
RECURRENCES = {"monthly": "Every month, from this date", "once": "Once, on this date"}
EXTRA_NAME_LENGTH = 120

# A monthly amount's share of one day: the amount over the number of days in that day's month.
_DAY_SHARE = "{amount} / extract(day FROM date_trunc('month', {day}) + interval '1 month - 1 day')"


def _days(since: str, until: str) -> str:
    return f"generate_series({since}::date, {until}::date, interval '1 day')"


async def daily_costs(workspace_id: int, since: date, until: date) -> dict[date, dict[int, Decimal]]:
    """ESP cost per day and server: what it sent at its price per 1,000, plus its fixed cost's day share."""
    params = Params()
    workspace, first, last = params.add(checked_workspace_id(workspace_id)), params.add(since), params.add(until)
    rows = await fetch(
        "SELECT p.day, p.server_id, sum(p.sent) * s.cost_per_thousand / 1000 AS cost "
        "FROM performance_days p JOIN delivery_servers s ON s.id = p.server_id AND s.workspace_id = p.workspace_id "
        f"WHERE p.workspace_id = {workspace} AND p.day BETWEEN {first} AND {last} AND s.cost_per_thousand > 0 "
        "GROUP BY p.day, p.server_id, s.cost_per_thousand "
        "UNION ALL "
        f"SELECT d::date, s.id, {_DAY_SHARE.format(amount='s.monthly_cost', day='d')} "
        f"FROM delivery_servers s CROSS JOIN {_days(first, last)} d "
        f"WHERE s.workspace_id = {workspace} AND s.monthly_cost > 0 AND d::date >= s.created_at::date", params)
    found: dict[date, dict[int, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for row in rows:
        found[row["day"]][row["server_id"]] += row["cost"]
    return {day: dict(servers) for day, servers in found.items()}


async def server_costs(workspace_id: int, since: date, until: date) -> dict[int, Decimal]:
    """ESP cost per server over the range (sent at its price per 1,000, plus its fixed cost)."""
    totals: dict[int, Decimal] = defaultdict(Decimal)
    for servers in (await daily_costs(workspace_id, since, until)).values():
        for server_id, cost in servers.items():
            totals[server_id] += cost
    return dict(totals)


async def campaign_costs(workspace_id: int, since: date, until: date) -> dict[int, Decimal]:
    """What each campaign's sends cost at its servers' prices per 1,000 (fixed costs belong to no campaign)."""
    params = Params()
    workspace, first, last = params.add(checked_workspace_id(workspace_id)), params.add(since), params.add(until)
    rows = await fetch(
        "SELECT p.campaign_id, sum(p.sent * s.cost_per_thousand / 1000) AS cost "
        "FROM performance_days p JOIN delivery_servers s ON s.id = p.server_id AND s.workspace_id = p.workspace_id "
        f"WHERE p.workspace_id = {workspace} AND p.day BETWEEN {first} AND {last} AND p.campaign_id <> 0 "
        "GROUP BY p.campaign_id", params)
    return {row["campaign_id"]: row["cost"] for row in rows}


async def data_costs(workspace_id: int, since: date, until: date) -> dict[date, dict[int, Decimal]]:
    """Data cost per day and list: the list's monthly cost's day share, plus the imports of that day."""
    params = Params()
    workspace, first, last = params.add(checked_workspace_id(workspace_id)), params.add(since), params.add(until)
    rows = await fetch(
        f"SELECT d::date AS day, c.list_id, {_DAY_SHARE.format(amount='c.monthly_cost', day='d')} AS cost "
        f"FROM list_costs c JOIN lists l ON l.id = c.list_id CROSS JOIN {_days(first, last)} d "
        f"WHERE c.workspace_id = {workspace} AND c.monthly_cost > 0 AND d::date >= l.created_at::date "
        "UNION ALL "
        "SELECT (i.created_at AT TIME ZONE 'UTC')::date, coalesce(i.list_id, 0), i.data_cost FROM imports i "
        f"WHERE i.workspace_id = {workspace} AND i.data_cost > 0 "
        f"AND i.created_at >= {first}::timestamp AT TIME ZONE 'UTC' "
        f"AND i.created_at < ({last}::date + 1)::timestamp AT TIME ZONE 'UTC'", params)
    found: dict[date, dict[int, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for row in rows:
        found[row["day"]][row["list_id"]] += row["cost"]
    return {day: dict(lists) for day, lists in found.items()}


async def other_costs(workspace_id: int, since: date, until: date) -> dict[date, Decimal]:
    """The workspace's extras per day: a one-off on its date, a monthly one's day share from its date on."""
    params = Params()
    workspace, first, last = params.add(checked_workspace_id(workspace_id)), params.add(since), params.add(until)
    rows = await fetch(
        f"SELECT d::date AS day, sum(CASE WHEN e.recurrence = 'once' THEN e.amount "
        f"ELSE {_DAY_SHARE.format(amount='e.amount', day='d')} END) AS cost "
        f"FROM cost_extras e JOIN {_days(first, last)} d "
        "ON (e.recurrence = 'once' AND d::date = e.on_date) OR (e.recurrence = 'monthly' AND d::date >= e.on_date) "
        f"WHERE e.workspace_id = {workspace} GROUP BY d", params)
    return {row["day"]: row["cost"] for row in rows}


# The settings: what the costs page shows and saves.


@dataclass(frozen=True)
class CostSheet:
    servers: list[dict[str, Any]]
    lists: list[dict[str, Any]]
    imports: list[dict[str, Any]]
    extras: list[dict[str, Any]]

    @property
    def empty(self) -> bool:
        return not (self.servers or self.lists or self.imports or self.extras)


RECENT_IMPORTS = 20


async def cost_sheet(workspace_id: int) -> CostSheet:
    """Every cost setting of the workspace: servers, lists, the latest imports into a list, and extras."""
    params = Params()
    workspace = params.add(checked_workspace_id(workspace_id))
    servers = await fetch(
        "SELECT id, name, kind, cost_per_thousand, monthly_cost FROM delivery_servers "
        f"WHERE workspace_id = {workspace} ORDER BY name, id", params)
    lists = await fetch(
        "SELECT l.id, l.name, coalesce(c.monthly_cost, 0) AS monthly_cost FROM lists l "
        f"LEFT JOIN list_costs c ON c.list_id = l.id WHERE l.workspace_id = {workspace} AND l.archived_at IS NULL "
        "ORDER BY l.name, l.id", params)
    imports = await fetch(
        "SELECT i.id, i.filename, i.created_at, i.inserted, i.data_cost, l.name AS list_name FROM imports i "
        f"JOIN lists l ON l.id = i.list_id WHERE i.workspace_id = {workspace} "
        f"ORDER BY i.id DESC LIMIT {RECENT_IMPORTS}", params)
    extras = await fetch(
        f"SELECT id, name, amount, recurrence, on_date FROM cost_extras WHERE workspace_id = {workspace} "
        "ORDER BY on_date DESC, id DESC", params)
    return CostSheet(servers=servers, lists=lists, imports=imports, extras=extras)


def _amount(form: dict[str, str], field: str, errors: dict[str, str], *, largest: Decimal = LARGEST_AMOUNT,
            places: Decimal = CENT, positive: bool = False) -> Decimal:
    """A money amount typed in `field` ("" is 0); a message next to the field when it is not one.

    Digits with a decimal point, commas only between thousands: "1,5" is refused, not read as 15, so that a
    decimal comma never makes a price ten times higher; Decimal's own "1e3", "1_000" or "NaN" are refused too.
    """
    text = str(form.get(field, "") or "").strip() or "0"
    if "," in text and not _THOUSANDS.fullmatch(text):
        errors[field] = "Use a point for decimals, such as 12.50 (a comma only between thousands, as in 1,250)."
        return Decimal(0)
    try:
        if not _PLAIN_NUMBER.fullmatch(text.replace(",", "")):
            raise InvalidOperation
        amount = Decimal(text.replace(",", ""))
        if amount != amount.quantize(places) or amount > largest:
            raise InvalidOperation
    except InvalidOperation:
        errors[field] = f"Enter an amount such as 12.50 (at most {len(str(places)) - 2} decimals, up to {largest})."
        return Decimal(0)
    if amount < 0 or (positive and amount == 0):
        errors[field] = "Enter an amount above 0." if positive else "Enter 0 or more."
    return amount


def _raise_if(errors: dict[str, str]) -> None:
    if errors:
        raise FormError(errors)


async def save_server_costs(workspace_id: int, server_id: int, form: dict[str, str]) -> dict[str, Any]:
    """Set a server's price per 1,000 sent and its fixed monthly cost; LookupError if not the workspace's."""
    errors: dict[str, str] = {}
    per_thousand = _amount(form, "cost_per_thousand", errors, largest=LARGEST_COST, places=Decimal("0.0001"))
    monthly = _amount(form, "monthly_cost", errors)
    _raise_if(errors)
    params = Params()
    rows = await fetch(
        f"UPDATE delivery_servers SET cost_per_thousand = {params.add(per_thousand)}, "
        f"monthly_cost = {params.add(monthly)}, updated_at = now() "
        f"WHERE id = {params.add(server_id)} AND workspace_id = {params.add(checked_workspace_id(workspace_id))} "
        "RETURNING id, name, cost_per_thousand, monthly_cost", params)
    if not rows:
        raise LookupError("No such server.")
    return rows[0]


async def save_list_cost(workspace_id: int, list_id: int, form: dict[str, str]) -> dict[str, Any]:
    """Set a list's data cost per month; LookupError if the list is not the workspace's."""
    errors: dict[str, str] = {}
    monthly = _amount(form, "monthly_cost", errors)
    _raise_if(errors)
    params = Params()
    workspace = params.add(checked_workspace_id(workspace_id))
    rows = await fetch(
        "INSERT INTO list_costs (list_id, workspace_id, monthly_cost) "
        f"SELECT id, workspace_id, {params.add(monthly)} FROM lists "
        f"WHERE id = {params.add(list_id)} AND workspace_id = {workspace} "
        "ON CONFLICT (list_id) DO UPDATE SET monthly_cost = excluded.monthly_cost, updated_at = now() "
        "RETURNING list_id, monthly_cost", params)
    if not rows:
        raise LookupError("No such list.")
    return rows[0]


async def save_import_cost(workspace_id: int, import_id: int, form: dict[str, str]) -> dict[str, Any]:
    """Set what an imported file cost; LookupError if the import is not the workspace's."""
    errors: dict[str, str] = {}
    cost = _amount(form, "data_cost", errors)
    _raise_if(errors)
    params = Params()
    rows = await fetch(
        f"UPDATE imports SET data_cost = {params.add(cost)} WHERE id = {params.add(import_id)} "
        f"AND workspace_id = {params.add(checked_workspace_id(workspace_id))} RETURNING id, filename, data_cost",
        params)
    if not rows:
        raise LookupError("No such import.")
    return rows[0]


def _extra_values(form: dict[str, str]) -> dict[str, Any]:
    errors: dict[str, str] = {}
    name = str(form.get("name", "")).strip()
    if not name:
        errors["name"] = "Name the cost (for example: Inbox monitoring tool)."
    elif len(name) > EXTRA_NAME_LENGTH:
        errors["name"] = f"Keep the name within {EXTRA_NAME_LENGTH} characters."
    amount = _amount(form, "amount", errors, positive=True)
    recurrence = str(form.get("recurrence", ""))
    if recurrence not in RECURRENCES:
        errors["recurrence"] = "Choose monthly or once."
    try:
        on_date = date.fromisoformat(str(form.get("on_date", "")).strip())
    except ValueError:
        errors["on_date"] = "Enter a date as YYYY-MM-DD."
        on_date = None
    _raise_if(errors)
    return {"name": name, "amount": amount, "recurrence": recurrence, "on_date": on_date}


async def add_extra(workspace_id: int, form: dict[str, str]) -> dict[str, Any]:
    """Record one of the workspace's other costs, monthly from a date or once on a date."""
    values = _extra_values(form)
    params = Params()
    [row] = await fetch(
        "INSERT INTO cost_extras (workspace_id, name, amount, recurrence, on_date) VALUES ("
        f"{params.add(checked_workspace_id(workspace_id))}, {params.add(values['name'])}, "
        f"{params.add(values['amount'])}, {params.add(values['recurrence'])}, {params.add(values['on_date'])}) "
        "RETURNING id, name, amount, recurrence, on_date", params)
    return row


async def delete_extra(workspace_id: int, extra_id: int) -> dict[str, Any]:
    """Remove one of the workspace's other costs; LookupError if it is not the workspace's."""
    params = Params()
    rows = await fetch(
        f"DELETE FROM cost_extras WHERE id = {params.add(extra_id)} "
        f"AND workspace_id = {params.add(checked_workspace_id(workspace_id))} RETURNING id, name, amount", params)
    if not rows:
        raise LookupError("No such cost.")
    return rows[0]
