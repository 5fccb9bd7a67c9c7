"""Volume scenarios: the planner's inputs read from the workspace, saved plans, and applying one to routing.

The inputs are the workspace's servers (quotas, warm-up plan and day, cost per 1,000 and monthly cost), its
domain groups and their hourly limits, the audience's domain mix (measured on a bounded sample of mailable
subscribers, scaled to the list counters' total) and, from `performance_days` over the last 30 days, each
server's eCPM and deliverability per domain group. A pair never sent through borrows the server's figure,
then the workspace's. A scenario stores its inputs as read, so it shows the same plan when reopened.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from app.db.planner import VolumeScenario
from app.db.tracking import TrackingSettings
from app.services import routing, warmup_plans
from app.services.analytics.planner import GroupInput, Plan, PlanInputs, ServerInput, plan
from app.services.csv_files import CsvRows
from app.services.delivery_servers import servers as workspace_servers
from app.services.form_input import LARGEST_INTEGER, whole_number
from app.services.forms import FormError
from app.services.routing import OTHERS
from app.services.sqlparams import Params, fetch
from app.services.suppression import MAILABLE_STATUSES
from app.services.tenancy import checked_workspace_id, owned_by

NAME_LENGTH = 120
LARGEST_TARGET = 10**9
LONGEST_HORIZON = 365
DEFAULT_HORIZON = 90
MEASURED_DAYS = 30
AUDIENCE_SAMPLE = 100_000
KEEP, NO_PLAN = "", "none"


class PlannerError(FormError):
    """Form values of the volume planner that cannot be used."""


@dataclass(frozen=True)
class Choices:
    """What the person asked for: a target, a horizon, the servers to use and warm-up plans to assign."""

    name: str
    target: int
    days: int
    start: date
    # server id → included
    included: Mapping[int, bool]
    # server id → (plan id or None for no plan, schedule day); servers absent keep their warm-up
    warmups: Mapping[int, tuple[int | None, int]]

    def as_json(self) -> dict[str, Any]:
        return {"included": {str(k): v for k, v in self.included.items()},
                "warmups": {str(k): list(v) for k, v in self.warmups.items()}}


def _text_errors(raw: Mapping[str, Any], errors: dict[str, str]) -> str:
    name = str(raw.get("name", "")).strip()
    if not name or len(name) > NAME_LENGTH:
        errors["name"] = f"Give the scenario a name of up to {NAME_LENGTH} characters."
    return name


def _number(raw: Mapping[str, Any], field: str, message: str, errors: dict[str, str], *, low: int, high: int,
            default: int | None = None) -> int:
    try:
        value = whole_number(str(raw.get(field, "")).replace(",", ""), field, PlannerError, message, low=low,
                             high=high, default=default)
    except PlannerError as exc:
        errors.update(exc.errors)
        return low
    if value is None:
        errors[field] = message
        return low
    return value


def _start(raw: Mapping[str, Any], errors: dict[str, str], today: date) -> date:
    """The plan's first day: today when left empty, never in the past, at most a year ahead."""
    text = str(raw.get("start", "")).strip()
    if not text:
        return today
    try:
        start = date.fromisoformat(text)
    except ValueError:
        errors["start"] = "Enter a date as YYYY-MM-DD, e.g. 2026-12-01."
        return today
    if not today <= start <= today + timedelta(days=LONGEST_HORIZON):
        errors["start"] = "Start today or on a day within the next year."
        return today
    return start


def parsed_choices(raw: Mapping[str, Any], servers: list[dict], plan_ids: set[int], today: date) -> Choices:
    """The planner form read against the workspace's servers and plans; every mistake at once."""
    errors: dict[str, str] = {}
    name = _text_errors(raw, errors)
    target = _number(raw, "target", f"Enter a daily volume from 1 to {LARGEST_TARGET:,}.", errors, low=1,
                     high=LARGEST_TARGET)
    days = _number(raw, "days", f"Plan from 1 to {LONGEST_HORIZON} days.", errors, low=1, high=LONGEST_HORIZON,
                   default=DEFAULT_HORIZON)
    start = _start(raw, errors, today)
    included = {s["id"]: bool(raw.get(f"include_{s['id']}")) for s in servers}
    warmups: dict[int, tuple[int | None, int]] = {}
    for server in servers:
        picked = str(raw.get(f"plan_{server['id']}", KEEP)).strip()
        if picked == KEEP:
            continue
        if picked != NO_PLAN and not (picked.isdigit() and int(picked) in plan_ids):
            errors[f"plan_{server['id']}"] = "Choose one of the warm-up plans."
            continue
        day = _number(raw, f"day_{server['id']}", f"Enter a day from 1 to {warmup_plans.LONGEST_PLAN}.", errors,
                      low=1, high=warmup_plans.LONGEST_PLAN, default=1)
        warmups[server["id"]] = (None if picked == NO_PLAN else int(picked), day)
    if servers and not any(included.values()):
        errors["servers"] = "Include at least one server."
    if not servers:
        errors["servers"] = "Add a delivery server first: the plan spreads volume across servers."
    if errors:
        raise PlannerError(errors)
    return Choices(name, target, days, start, included, warmups)


async def _measured(workspace_id: int, since: date) -> list[dict]:
    params = Params()
    return await fetch(
        "SELECT server_id, domain_group, sum(sent) AS sent, sum(hard + soft + block) AS bounced, "
        "sum(revenue) AS revenue FROM performance_days "
        f"WHERE workspace_id = {params.add(checked_workspace_id(workspace_id))} AND day >= {params.add(since)} "
        "AND server_id > 0 GROUP BY server_id, domain_group", params)


async def audience_mix(workspace_id: int, groups: list[dict]) -> dict[str, int]:
    """Mailable subscribers per domain group (and Others): a bounded sample's mix scaled to the counters."""
    params = Params()
    workspace = params.add(checked_workspace_id(workspace_id))
    sample = await fetch(
        "SELECT email_domain, count(*) AS n FROM (SELECT email_domain FROM subscribers "
        f"WHERE workspace_id = {workspace} AND status = ANY({params.add(list(MAILABLE_STATUSES))}) "
        f"LIMIT {AUDIENCE_SAMPLE}) s GROUP BY email_domain", params)
    counters = Params()
    counted = await fetch("SELECT coalesce(sum(confirmed), 0) AS n FROM list_counters WHERE workspace_id = "
                          f"{counters.add(checked_workspace_id(workspace_id))}", counters)
    mix = {group["name"]: 0 for group in groups} | {OTHERS: 0}
    for row in sample:
        group = routing.group_of(row["email_domain"], groups)
        mix[group["name"] if group else OTHERS] += row["n"]
    sampled = sum(mix.values())
    total = max(int(counted[0]["n"]), sampled)
    return {name: round(count * total / sampled) if sampled else 0 for name, count in mix.items()}


def _figures(rows: list[dict]) -> tuple[dict[tuple[int, str], tuple[Decimal, float]], dict[int, tuple[Decimal, float]],
                                        tuple[Decimal, float]]:
    """(eCPM, deliverability) per server and group, per server, and for the workspace, from measured rows."""
    def summed(selected: list[dict]) -> tuple[Decimal, float] | None:
        sent = sum(int(row["sent"]) for row in selected)
        if sent <= 0:
            return None
        revenue = sum((Decimal(row["revenue"]) for row in selected), Decimal(0))
        bounced = sum(int(row["bounced"]) for row in selected)
        return (revenue * 1000 / sent).quantize(Decimal("0.0001")), max(0.0, 1 - bounced / sent)

    pairs = {(row["server_id"], row["domain_group"] or OTHERS): figure for row in rows
             if (figure := summed([row])) is not None}
    servers = {server_id: figure for server_id in {row["server_id"] for row in rows}
               if (figure := summed([row for row in rows if row["server_id"] == server_id])) is not None}
    return pairs, servers, summed(rows) or (Decimal(0), 1.0)


def _warmup(server: dict, choices: Choices, plans: Mapping[int, dict], offset: int) -> tuple[tuple[int, ...], int]:
    """The warm-up schedule the server follows in the scenario and its schedule day on the plan's first day."""
    if server["id"] in choices.warmups:
        plan_id, day = choices.warmups[server["id"]]
        return (tuple(plans[plan_id]["daily_caps"]) if plan_id else ()), day
    row = plans.get(server["warmup_plan_id"]) if server["warmup_plan_id"] else None
    if row is None:
        return (), 1
    if server["warmup_override_cap"] is not None:
        return (server["warmup_override_cap"],) * (offset + choices.days), 1
    return tuple(row["daily_caps"]), max(server["warmup_day"], 1) + offset


async def planning_inputs(workspace_id: int, choices: Choices, today: date) -> PlanInputs:
    """The planner's inputs as the workspace stands now, with the person's choices."""
    groups = await routing.domain_groups(workspace_id)
    mix = await audience_mix(workspace_id, groups)
    plans = await warmup_plans.plans_by_id(workspace_id)
    pairs, per_server, overall = _figures(await _measured(workspace_id, today - timedelta(days=MEASURED_DAYS)))
    names = [group["name"] for group in groups] + [OTHERS]
    offset = (choices.start - today).days
    servers = []
    for server in await workspace_servers(workspace_id):
        if not choices.included.get(server["id"]):
            continue
        caps, day = _warmup(server, choices, plans, offset)
        figures = {name: pairs.get((server["id"], name)) or per_server.get(server["id"]) or overall
                   for name in names}
        servers.append(ServerInput(
            id=server["id"], name=server["name"], daily_quota=server["daily_quota"],
            hourly_quota=server["hourly_quota"], per_second=server["per_second"],
            monthly_quota=server["monthly_quota"], warmup_caps=caps, warmup_day=day,
            cost_per_thousand=Decimal(server["cost_per_thousand"]),
            fixed_per_day=(Decimal(server.get("monthly_cost") or 0) * 12 / 365).quantize(Decimal("0.0001")),
            ecpm={name: figure[0] for name, figure in figures.items()},
            deliverability={name: figure[1] for name, figure in figures.items()}))
    limits = {group["name"]: group["hourly_limit"] for group in groups}
    return PlanInputs(target=choices.target, days=choices.days, start=choices.start, servers=servers,
                      groups=[GroupInput(name, mix.get(name, 0), limits.get(name, 0)) for name in names])


def inputs_json(inputs: PlanInputs) -> dict[str, Any]:
    return json.loads(json.dumps({
        "target": inputs.target, "days": inputs.days, "start": inputs.start,
        "servers": [vars(server) for server in inputs.servers], "groups": [vars(group) for group in inputs.groups],
    }, default=str))


def inputs_from_json(data: Mapping[str, Any]) -> PlanInputs:
    servers = [ServerInput(**{
        **server, "warmup_caps": tuple(server["warmup_caps"]),
        "cost_per_thousand": Decimal(server["cost_per_thousand"]), "fixed_per_day": Decimal(server["fixed_per_day"]),
        "ecpm": {name: Decimal(value) for name, value in server["ecpm"].items()},
    }) for server in data["servers"]]
    return PlanInputs(target=data["target"], days=data["days"], start=date.fromisoformat(data["start"]),
                      servers=servers, groups=[GroupInput(**group) for group in data["groups"]])


async def currency(workspace_id: int) -> str:
    """The workspace's currency, in which eCPM, cost and revenue are shown."""
    row = await TrackingSettings.select(TrackingSettings.currency).where(
        owned_by(TrackingSettings, workspace_id)).first()
    return row["currency"] if row else "USD"


def daily_totals(result: Plan) -> list[dict[str, Any]]:
    return [{"day": day.day.isoformat(), "total": day.total, "delivered": day.delivered, "cost": str(day.cost),
             "revenue": str(day.revenue)} for day in result.days]


async def _servers_and_plans(workspace_id: int) -> tuple[list[dict], dict[int, dict]]:
    servers = await workspace_servers(workspace_id)
    await warmup_plans.plans(workspace_id)
    return servers, await warmup_plans.plans_by_id(workspace_id)


async def run(workspace_id: int, raw: Mapping[str, Any], actor_email: str, today: date | None = None) -> dict:
    """Plan the scenario the form describes and save it; PlannerError names every field at fault."""
    today = today or datetime.now(UTC).date()
    servers, plans = await _servers_and_plans(workspace_id)
    choices = parsed_choices(raw, servers, set(plans), today)
    if await VolumeScenario.exists().where(owned_by(VolumeScenario, workspace_id),
                                           VolumeScenario.name == choices.name):
        raise PlannerError({"name": "Another scenario has this name."})
    inputs = await planning_inputs(workspace_id, choices, today)
    result = plan(inputs)
    rows = await VolumeScenario.insert(VolumeScenario(
        workspace_id=checked_workspace_id(workspace_id), name=choices.name, target=choices.target,
        days=choices.days, start_on=choices.start, choices=choices.as_json(), inputs=inputs_json(inputs),
        plan=daily_totals(result), days_to_target=result.days_to_target, sent=result.sent,
        final_daily=result.final_daily, cost=result.cost, revenue=result.revenue, shortfall=result.shortfall,
        created_by=actor_email, created_at=datetime.now(UTC),
    )).returning(*VolumeScenario.all_columns())
    return rows[0]


async def saved(workspace_id: int, limit: int = 200) -> list[dict]:
    """The workspace's scenarios, newest first, without their inputs."""
    return await VolumeScenario.select(*[column for column in VolumeScenario.all_columns()
                                         if column._meta.name not in ("inputs", "plan", "choices")]).where(
        owned_by(VolumeScenario, workspace_id)).order_by(VolumeScenario.id, ascending=False).limit(limit)


async def get_scenario(workspace_id: int, scenario_id: int) -> dict:
    """The scenario with this id in this workspace; LookupError when there is none."""
    row = None
    if 0 < scenario_id <= LARGEST_INTEGER:
        row = await VolumeScenario.select().where(owned_by(VolumeScenario, workspace_id),
                                                  VolumeScenario.id == scenario_id).output(load_json=True).first()
    if row is None:
        raise LookupError("scenario")
    return row


def replanned(scenario: Mapping[str, Any]) -> Plan:
    """The scenario's plan, worked out again from the inputs it stored (the planner is deterministic)."""
    return plan(inputs_from_json(scenario["inputs"]))


async def compared(workspace_id: int, scenario_ids: list[int]) -> list[dict]:
    """The scenarios to set side by side, in the order asked; one not in this workspace is LookupError."""
    return [await get_scenario(workspace_id, scenario_id) for scenario_id in dict.fromkeys(scenario_ids)]


async def delete(workspace_id: int, scenario_id: int) -> dict:
    rows = await VolumeScenario.delete().where(owned_by(VolumeScenario, workspace_id),
                                               VolumeScenario.id == scenario_id).returning(VolumeScenario.name)
    if not rows:
        raise LookupError("scenario")
    return rows[0]


def plan_rows(scenario: Mapping[str, Any]) -> list[list[Any]]:
    """The plan as CSV rows: one per day, server and domain group."""
    result = replanned(scenario)
    servers = {server.id: server for server in result.inputs.servers}
    rows = []
    for day in result.days:
        for (server_id, group), count in sorted(day.sends.items()):
            server = servers[server_id]
            rows.append([day.day.isoformat(), server.name, group, count,
                         (count * server.cost_per_thousand / 1000).quantize(Decimal("0.01")),
                         (count * server.ecpm.get(group, Decimal(0)) / 1000).quantize(Decimal("0.01"))])
    return rows


PLAN_COLUMNS = ("day", "server", "domain_group", "messages", "cost", "expected_revenue")


async def plan_csv(workspace_id: int, scenario_id: int) -> AsyncIterator[bytes]:
    """The scenario's plan through the one CSV writer (a 365-day plan is a few thousand rows)."""
    rows = plan_rows(await get_scenario(workspace_id, scenario_id))
    writer = CsvRows(PLAN_COLUMNS)
    yield writer.header()
    yield writer.encode(rows)
