"""Editing a workspace's robot rules: the values a person types, checked, and the rules stored.

What each kind of rule means is in app/services/tracking/robots.py. A rule that could never work, or
that would call every person a robot (a network of every address), is refused with a message next to
the field; every read and write is held to the workspace.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from asyncpg.exceptions import UniqueViolationError

from app.services import statements
from app.services.forms import FormError
from app.services.tenancy import checked_workspace_id

KINDS = {
    "known_robots": "Known robot User-Agents (CrawlerDetect list)",
    "user_agent": "User-Agent matches a pattern",
    "network": "Comes from a network",
    "link_burst": "Many links within seconds",
    "after_delivery": "Soon after delivery",
}
APPLIES_TO = {"both": "Opens and clicks", "open": "Opens", "click": "Clicks"}
MAX_NAME = 80
MAX_PATTERN = 300
MAX_NETWORKS = 500
MAX_BURST_LINKS = 50
MAX_BURST_SECONDS = Decimal(60)
MAX_DELAY_SECONDS = Decimal(3600)
_SEPARATORS = re.compile(r"[\s,;]+")


class RobotRuleError(FormError):
    """A rule as typed cannot be stored."""


@dataclass(frozen=True)
class RuleValues:
    name: str
    kind: str
    applies_to: str
    pattern: str
    networks: list[str]
    links: int | None
    seconds: Decimal | None
    enabled: bool

    def arguments(self) -> list[Any]:
        return [self.name, self.kind, self.applies_to, self.pattern, self.networks, self.links, self.seconds,
                self.enabled]


def _shown(row: Mapping[str, Any]) -> dict[str, Any]:
    """A stored rule as the page shows and re-fills it (networks one per line)."""
    seconds = row["seconds"]
    return {**row, "networks_text": "\n".join(row["networks"]),
            "seconds_text": "" if seconds is None else f"{seconds.normalize():f}"}


async def rules_of(workspace_id: int) -> list[dict[str, Any]]:
    return [_shown(row) for row in await statements.run("robots.rules-of", checked_workspace_id(workspace_id))]


async def rule_of(workspace_id: int, rule_id: int) -> dict[str, Any]:
    rows = await statements.run("robots.rule", checked_workspace_id(workspace_id), rule_id)
    if not rows:
        raise LookupError(rule_id)
    return _shown(rows[0])


def form_of(rule: Mapping[str, Any]) -> dict[str, str]:
    """A stored rule as the values of its edit form."""
    return {"name": rule["name"], "kind": rule["kind"], "applies_to": rule["applies_to"],
            "pattern": rule["pattern"], "networks": rule["networks_text"],
            "links": "" if rule["links"] is None else str(rule["links"]), "seconds": rule["seconds_text"],
            "enabled": "on" if rule["enabled"] else ""}


def _pattern_problem(pattern: str) -> str | None:
    if not pattern:
        return "Give the pattern the User-Agent must match."
    if len(pattern) > MAX_PATTERN:
        return f"Keep the pattern under {MAX_PATTERN} characters."
    try:
        re.compile(pattern)
    except re.error as error:
        return f"This is not a valid regular expression: {error.msg} at position {error.pos}."
    return None


def _networks(text: str) -> tuple[list[str], str | None]:
    """The CIDR ranges typed (one per line or separated by commas), normalised, or why they are not."""
    entries = [entry for entry in _SEPARATORS.split(text.strip()) if entry]
    if not entries:
        return [], "List at least one network, such as 40.92.0.0/15."
    if len(entries) > MAX_NETWORKS:
        return [], f"At most {MAX_NETWORKS} networks per rule."
    networks = []
    for entry in entries:
        try:
            network = ipaddress.ip_network(entry, strict=False)
        except ValueError:
            return [], f"“{entry}” is not an address or a network such as 40.92.0.0/15."
        if network.prefixlen == 0:
            return [], f"“{entry}” covers every address: every open and click would count as a robot's."
        networks.append(str(network))
    return list(dict.fromkeys(networks)), None


def _number(text: str) -> Decimal | None:
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


def _links(text: str) -> tuple[int | None, str | None]:
    value = _number(text)
    if value is None or value != value.to_integral_value() or not 2 <= value <= MAX_BURST_LINKS:
        return None, f"Give a whole number of links from 2 to {MAX_BURST_LINKS}."
    return int(value), None


def _seconds(text: str, most: Decimal) -> tuple[Decimal | None, str | None]:
    value = _number(text)
    if value is None or not Decimal(0) < value <= most or value != value.quantize(Decimal("0.001")):
        return None, f"Give seconds above 0 and up to {most}, such as 1 or 2.5."
    return value, None


def _kind_values(kind: str, applies_to: str, form: Mapping[str, str], errors: dict[str, str]) -> dict[str, Any]:
    """The fields the kind uses (the others are stored empty), with a message for each one that is wrong."""
    values: dict[str, Any] = {"pattern": "", "networks": [], "links": None, "seconds": None}
    problem: str | None = None
    if kind == "user_agent":
        values["pattern"] = form.get("pattern", "").strip()
        if problem := _pattern_problem(values["pattern"]):
            errors["pattern"] = problem
    elif kind == "network":
        values["networks"], problem = _networks(form.get("networks", ""))
        if problem:
            errors["networks"] = problem
    elif kind == "link_burst":
        values["links"], problem = _links(form.get("links", ""))
        if problem:
            errors["links"] = problem
        values["seconds"], problem = _seconds(form.get("seconds", ""), MAX_BURST_SECONDS)
        if problem:
            errors["seconds"] = problem
        if applies_to != "click":
            errors["applies_to"] = "A burst is of clicks: choose Clicks."
    elif kind == "after_delivery":
        values["seconds"], problem = _seconds(form.get("seconds", ""), MAX_DELAY_SECONDS)
        if problem:
            errors["seconds"] = problem
    return values


def rule_values(form: Mapping[str, str]) -> RuleValues:
    """The rule the form describes; RobotRuleError with a message for each wrong field."""
    errors: dict[str, str] = {}
    name = form.get("name", "").strip()
    if not name:
        errors["name"] = "Give the rule a name: flagged events show it."
    elif len(name) > MAX_NAME:
        errors["name"] = f"Keep the name under {MAX_NAME} characters."
    kind = form.get("kind", "")
    if kind not in KINDS:
        errors["kind"] = "Choose what the rule looks at."
    applies_to = form.get("applies_to", "")
    if applies_to not in APPLIES_TO:
        errors["applies_to"] = "Choose opens, clicks or both."
    values = _kind_values(kind, applies_to, form, errors)
    if errors:
        raise RobotRuleError(errors)
    return RuleValues(name, kind, applies_to, values["pattern"], values["networks"], values["links"],
                      values["seconds"], form.get("enabled") in ("on", "true", "1"))


async def _check_name_free(workspace_id: int, name: str, rule_id: int = 0) -> None:
    rows = await statements.run("robots.name-taken", workspace_id, name, rule_id)
    if rows[0]["taken"]:
        raise RobotRuleError(f"A rule named “{name}” exists already.", field="name")


async def create_rule(workspace_id: int, form: Mapping[str, str]) -> dict[str, Any]:
    workspace_id = checked_workspace_id(workspace_id)
    values = rule_values(form)
    await _check_name_free(workspace_id, values.name)
    rows = await statements.run("robots.insert", workspace_id, *values.arguments())
    if not rows:
        raise RobotRuleError(f"A rule named “{values.name}” exists already.", field="name")
    return rows[0]


async def update_rule(workspace_id: int, rule_id: int, form: Mapping[str, str]) -> dict[str, Any]:
    workspace_id = checked_workspace_id(workspace_id)
    await rule_of(workspace_id, rule_id)
    values = rule_values(form)
    await _check_name_free(workspace_id, values.name, rule_id)
    try:
        rows = await statements.run("robots.update", workspace_id, rule_id, *values.arguments())
    except UniqueViolationError as error:
        raise RobotRuleError(f"A rule named “{values.name}” exists already.", field="name") from error
    if not rows:
        raise LookupError(rule_id)
    return rows[0]


async def set_enabled(workspace_id: int, rule_id: int, enabled: bool) -> dict[str, Any]:
    rows = await statements.run("robots.set-enabled", checked_workspace_id(workspace_id), rule_id, enabled)
    if not rows:
        raise LookupError(rule_id)
    return rows[0]


async def delete_rule(workspace_id: int, rule_id: int) -> dict[str, Any]:
    rows = await statements.run("robots.delete", checked_workspace_id(workspace_id), rule_id)
    if not rows:
        raise LookupError(rule_id)
    return rows[0]


async def restore_defaults(workspace_id: int) -> int:
    """Adds back the default rules the workspace deleted (by name); returns how many."""
    return (await statements.run("robots.restore-defaults", checked_workspace_id(workspace_id)))[0]["added"]
