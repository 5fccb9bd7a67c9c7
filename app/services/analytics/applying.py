"""Applying a saved volume scenario: routing weights per server, one routing rule per domain group, warm-ups.

Everything goes through the routing and warm-up services the Delivery pages use; the caller wraps it in
`audit.change`, so the changes and their audit entry are stored together or not at all.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from app.db.delivery import DeliveryServer
from app.db.planner import VolumeScenario
from app.services import routing, warmup_plans
from app.services.analytics.scenarios import get_scenario, replanned
from app.services.delivery_servers import servers as workspace_servers
from app.services.tenancy import owned_by

# Applied rules carry this prefix, so applying another plan replaces them and leaves people's rules alone.
RULE_PREFIX = "Volume plan · "
LARGEST_WEIGHT = 1000


def weights(volumes: Mapping[int, int]) -> dict[int, int]:
    """Routing weights (1 to 1000) in proportion to each server's planned volume; servers with none get 0."""
    largest = max(volumes.values(), default=0)
    return {server_id: (max(1, round(LARGEST_WEIGHT * volume / largest)) if volume > 0 else 0)
            for server_id, volume in volumes.items()} if largest else {k: 0 for k in volumes}


@dataclass(frozen=True)
class Applied:
    """What applying a scenario changed: server weights, one rule per domain group, warm-up assignments."""

    weights: dict[int, int]
    rules: dict[str, dict[int, int]]
    warmups: dict[int, tuple[int | None, int]]

    def details(self, name: str) -> dict[str, Any]:
        return {"name": name, "weights": {str(k): v for k, v in self.weights.items()},
                "rules": sorted(self.rules), "warmups": {str(k): list(v) for k, v in self.warmups.items()}}


async def apply(workspace_id: int, scenario_id: int, actor_email: str) -> Applied:
    """Put the scenario in force: each server's weight and, per domain group, a routing rule with the plan's
    split on its full-volume day (the first day it reaches the target, else its last); warm-up plans as
    chosen. Call inside `audit.change`, so the changes and their audit entry are one transaction."""
    scenario = await get_scenario(workspace_id, scenario_id)
    result = replanned(scenario)
    day = result.days[(result.days_to_target or len(result.days)) - 1]
    servers = {row["id"] for row in await workspace_servers(workspace_id)}
    per_server = {server_id: 0 for server_id in servers}
    per_group: dict[str, dict[int, int]] = {}
    for (server_id, group), count in day.sends.items():
        if server_id in servers:
            per_server[server_id] += count
            per_group.setdefault(group, {})[server_id] = count
    applied_weights = weights(per_server)
    for server_id, weight in applied_weights.items():
        await DeliveryServer.update({DeliveryServer.weight: weight}).where(owned_by(DeliveryServer, workspace_id),
                                                                          DeliveryServer.id == server_id)
    rules = await _replace_rules(workspace_id, per_group)
    chosen = {int(k): (v[0], v[1]) for k, v in scenario["choices"].get("warmups", {}).items()
              if int(k) in servers}
    for server_id, (plan_id, schedule_day) in chosen.items():
        await warmup_plans.assign(workspace_id, server_id, plan_id, schedule_day, None)
    await VolumeScenario.update({VolumeScenario.applied_at: datetime.now(UTC), VolumeScenario.applied_by: actor_email}
                                ).where(owned_by(VolumeScenario, workspace_id), VolumeScenario.id == scenario_id)
    return Applied(applied_weights, rules, chosen)


async def rules_matched_first(workspace_id: int) -> list[str]:
    """The names of people's routing rules: applied rules go after them, so mail one of them matches keeps its
    pool whatever the plan says."""
    return [rule["name"] for rule in await routing.rules(workspace_id) if not rule["name"].startswith(RULE_PREFIX)]


async def _replace_rules(workspace_id: int, per_group: Mapping[str, Mapping[int, int]]) -> dict[str, dict[int, int]]:
    """The rules of an earlier applied plan removed, one per named domain group added, after people's rules."""
    for rule in await routing.rules(workspace_id):
        if rule["name"].startswith(RULE_PREFIX):
            await routing.delete_rule(workspace_id, rule["id"])
    added = {}
    for group in await routing.domain_groups(workspace_id):
        split = weights(dict(per_group.get(group["name"], {})))
        if not any(split.values()):
            continue
        await routing.save_rule(workspace_id, {"name": RULE_PREFIX + group["name"],
                                               "domain_group_id": str(group["id"]),
                                               **{f"weight_{server_id}": str(w) for server_id, w in split.items()}})
        added[group["name"]] = split
    return added
