"""Warm-up plans attached to delivery servers, and advancing them once a day when health held."""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from redis.asyncio import Redis

from app.db.delivery import DeliveryServer, WarmupPlan
from app.services.accounts import now
from app.services.form_input import chosen_id, owned_id, whole_number
from app.services.forms import FormError
from app.services.tenancy import checked_workspace_id, owned_by
from app.services.throttling import WARMUP_PLANS, BreakerPolicy, breaker_status
from app.services.throttling.decisions import KEEP_DECISIONS, Decision, decisions_key
from app.services.throttling.warmup import WarmupPlan as Schedule
from app.services.throttling.warmup import WarmupState, advance_day, daily_cap, local_today

NAME_LENGTH = 120
LARGEST_CAP = 10**9
# A schedule longer than a year is a typing mistake, not a warm-up.
LONGEST_PLAN = 366


class WarmupError(FormError):
    """Form values of this area that cannot be saved."""


def parsed_caps(text: str) -> list[int]:
    parts = [part for part in text.replace(",", " ").split() if part]
    if not 0 < len(parts) <= LONGEST_PLAN or not all(part.isdigit() and 0 < int(part) <= LARGEST_CAP
                                                      for part in parts):
        raise WarmupError({"daily_caps": f"List up to {LONGEST_PLAN} daily caps from 1 to {LARGEST_CAP:,}, "
                                         "e.g. 50, 100, 500, 1000."})
    return [int(part) for part in parts]


async def plans(workspace_id: int) -> list[dict]:
    """The workspace's plans, starting with the built-in presets on first use."""
    rows = await WarmupPlan.select().where(owned_by(WarmupPlan, workspace_id)).order_by(WarmupPlan.name)
    if rows:
        return rows
    await WarmupPlan.insert(*[
        WarmupPlan(workspace_id=checked_workspace_id(workspace_id), name=name, daily_caps=list(plan.daily_caps),
                   created_at=now())
        for name, plan in WARMUP_PLANS.items()
    ])
    return await WarmupPlan.select().where(owned_by(WarmupPlan, workspace_id)).order_by(WarmupPlan.name)


async def create_plan(workspace_id: int, raw: dict[str, Any]) -> dict:
    name = str(raw.get("name", "")).strip()
    if not name or len(name) > NAME_LENGTH:
        raise WarmupError({"name": f"Give the plan a name of up to {NAME_LENGTH} characters."})
    caps = parsed_caps(str(raw.get("daily_caps", "")))
    if await WarmupPlan.exists().where(owned_by(WarmupPlan, workspace_id), WarmupPlan.name == name):
        raise WarmupError({"name": "Another plan has this name."})
    rows = await WarmupPlan.insert(WarmupPlan(workspace_id=checked_workspace_id(workspace_id), name=name,
                                              daily_caps=caps, created_at=now())).returning(*WarmupPlan.all_columns())
    return rows[0]


def _state(server: dict, plan_name: str) -> WarmupState:
    return WarmupState(plan=plan_name, day=max(server["warmup_day"], 1),
                       last_decided_on=server["warmup_last_decided_on"], held_days=server["warmup_held_days"],
                       override_cap=server["warmup_override_cap"])


async def _plan_of(server: dict) -> Schedule | None:
    if not server["warmup_plan_id"]:
        return None
    row = await WarmupPlan.select().where(WarmupPlan.id == server["warmup_plan_id"],
                                          WarmupPlan.workspace_id == server["workspace_id"]).first()
    return Schedule(row["name"], tuple(row["daily_caps"])) if row else None


async def plans_by_id(workspace_id: int) -> dict[int, dict]:
    """The workspace's plans in one query, for loops over servers."""
    rows = await WarmupPlan.select().where(owned_by(WarmupPlan, workspace_id))
    return {row["id"]: row for row in rows}


def cap_today(server: dict, plans: Mapping[int, dict]) -> int | None:
    """The server's warm-up cap for today, or None when it is not warming up."""
    row = plans.get(server["warmup_plan_id"]) if server["warmup_plan_id"] else None
    if row is None:
        return None
    return daily_cap(_state(server, row["name"]), Schedule(row["name"], tuple(row["daily_caps"])))


async def todays_cap(server: dict) -> int | None:
    return cap_today(server, await plans_by_id(server["workspace_id"]))


def _schedule_values(raw: Mapping[str, Any]) -> tuple[int | None, int, int | None]:
    """The plan id, schedule day and manual cap typed into a server's warm-up form."""
    errors: dict[str, str] = {}

    def read(field: str, message: str, high: int, default: int | None) -> int | None:
        try:
            return whole_number(raw.get(field), field, WarmupError, message, low=1, high=high, default=default)
        except WarmupError as exc:
            errors.update(exc.errors)
            return default

    day = read("day", f"Enter a day from 1 to {LONGEST_PLAN}.", LONGEST_PLAN, 1)
    override_cap = read("override_cap", f"Enter a cap from 1 to {LARGEST_CAP:,}, or leave it empty "
                                        "(pause the server to stop it).", LARGEST_CAP, None)
    try:
        plan_id = chosen_id(raw.get("plan_id"), "plan_id", WarmupError, "Choose a plan.")
    except WarmupError as exc:
        errors.update(exc.errors)
    if errors:
        raise WarmupError(errors)
    return plan_id, day or 1, override_cap


async def assign_from_form(workspace_id: int, server_id: int, raw: Mapping[str, Any]) -> None:
    """The server's warm-up form saved: plan, schedule day and manual cap as typed."""
    await assign(workspace_id, server_id, *_schedule_values(raw))


async def assign(workspace_id: int, server_id: int, plan_id: int | None, day: int, override_cap: int | None) -> None:
    """Attach a plan of this workspace (or none) to a server of this workspace, and set the schedule day
    and manual cap by hand; a plan or server of another workspace is LookupError."""
    if not 1 <= day <= LONGEST_PLAN:
        raise WarmupError({"day": f"Enter a day from 1 to {LONGEST_PLAN}."})
    if override_cap is not None and not 1 <= override_cap <= LARGEST_CAP:
        raise WarmupError({"override_cap": f"Enter a cap from 1 to {LARGEST_CAP:,}."})
    await owned_id(WarmupPlan, workspace_id, plan_id)
    rows = await DeliveryServer.update({
        DeliveryServer.warmup_plan_id: plan_id, DeliveryServer.warmup_day: day if plan_id else 0,
        DeliveryServer.warmup_override_cap: override_cap, DeliveryServer.warmup_held_days: 0,
        DeliveryServer.status: "warmup" if plan_id else "active",
    }).where(owned_by(DeliveryServer, workspace_id), DeliveryServer.id == server_id).returning(DeliveryServer.id)
    if not rows:
        raise LookupError("server")


async def _healthy(redis: Redis, server: dict) -> bool:
    """Yesterday's health, as far as it is known now: circuit closed and the last connection test not failed."""
    breaker = await breaker_status(redis, server["id"], BreakerPolicy())
    return breaker.allowed and server["status"] != "circuit_open" and server["last_check_ok"] is not False


async def advance_warmups(redis: Redis, at: datetime | None = None) -> list[Decision]:
    """Called by the scheduler: move each warming server to its next day once per local date, or hold it."""
    at = at or now()
    decisions = []
    servers = await DeliveryServer.select(*DeliveryServer.all_columns(),
                                          DeliveryServer.workspace_id.timezone.as_alias("timezone")).where(
        DeliveryServer.warmup_plan_id.is_not_null())
    for server in servers:
        plan = await _plan_of(server)
        if plan is None:
            continue
        step = advance_day(_state(server, plan.name), await _healthy(redis, server), plan=plan,
                           today=local_today(at, server["timezone"] or "UTC"))
        if step.state.last_decided_on == server["warmup_last_decided_on"]:
            continue
        await DeliveryServer.update({
            DeliveryServer.warmup_day: step.state.day,
            DeliveryServer.warmup_last_decided_on: step.state.last_decided_on,
            DeliveryServer.warmup_held_days: step.state.held_days,
            DeliveryServer.status: "warmup" if plan.cap_on(step.state.day) is not None else "active",
        }).where(DeliveryServer.id == server["id"])
        decision = Decision(at=time.time(), server_id=server["id"], kind="warmup", subject=plan.name,
                            old=f"day {server['warmup_day']}", new=f"day {step.state.day}", reason=step.reason)
        async with redis.pipeline(transaction=True) as pipe:
            pipe.lpush(decisions_key(server["id"]), decision.to_json())
            pipe.ltrim(decisions_key(server["id"]), 0, KEEP_DECISIONS - 1)
            await pipe.execute()
        decisions.append(decision)
    return decisions
