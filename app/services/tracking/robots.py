"""Which opens and clicks are robots': each event against its workspace's robot rules, in the aggregator.

A rule is data (table `robot_rules`, edited on /settings/robots, defaults seeded for every workspace);
the rules of a workspace are tried in their order and the first that matches names the robot. Kinds:
- `known_robots`: the User-Agent is on CrawlerDetect's list of robots, scanners and fetchers;
- `user_agent`: the User-Agent matches the rule's regular expression (case-insensitive), e.g. Apple Mail
  Privacy Protection's bare `Mozilla/5.0` or Gmail's `GoogleImageProxy`;
- `network`: the request came from one of the rule's CIDR ranges (Microsoft, Google, Barracuda, ...);
- `link_burst`: the click is one of at least `links` different links of one message clicked within
  `seconds` (a scanner follows every link at once; a person reads between clicks);
- `after_delivery`: it came within `seconds` of the message being handed to the provider.

A flagged open becomes a `machine_open`, a flagged click a `bot_click`: kinds of their own, counted apart,
never unique opens or clicks, never a subscriber's last open or click, engagement score or best hour.

Limits of a batch's view: a burst is judged from the batch's clicks plus the message's clicks already
stored within the burst's window, so clicks of a burst stored by an earlier batch stay as they were.
"""

from __future__ import annotations

import ipaddress
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache, lru_cache
from typing import Any

from crawlerdetect import CrawlerDetect

from app.services import statements
from app.services.tracking.events import CLICK, OPEN

MACHINE_OPEN, BOT_CLICK = "machine_open", "bot_click"
ROBOT_KINDS = {OPEN: MACHINE_OPEN, CLICK: BOT_CLICK}
# Rules that need the delivery's send time or its other clicks, read from the database per batch.
DELIVERY_RULES = ("link_burst", "after_delivery")
_MEMO_MAX = 20_000


@dataclass(frozen=True)
class Rule:
    id: int
    name: str
    kind: str
    applies_to: str
    pattern: str = ""
    networks: tuple[str, ...] = ()
    links: int | None = None
    seconds: float | None = None

    def covers(self, kind: str) -> bool:
        return self.applies_to == "both" or self.applies_to == kind


@dataclass(frozen=True, slots=True)
class Sighting:
    """What the rules see of one event."""

    workspace_id: int
    delivery_id: int
    kind: str
    agent: str
    address: str
    at: datetime
    link: int | None = None


@dataclass
class DeliveryHistory:
    """A delivery's send time and the clicks of it already stored near the batch's time."""

    sent_at: datetime | None = None
    clicks: list[tuple[datetime, int | None]] = field(default_factory=list)


@cache
def _crawler_detect() -> CrawlerDetect:
    return CrawlerDetect()


@lru_cache(maxsize=8192)
def known_robot(agent: str) -> bool:
    """Whether the User-Agent is on CrawlerDetect's list (its check costs ~0.1 ms, hence the cache)."""
    return bool(agent) and _crawler_detect().isCrawler(agent)


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


class RuleSet:
    """A workspace's enabled rules, compiled once for as long as they stay the same.

    Rules that look only at the request (User-Agent, network, CrawlerDetect) give the same answer for the
    same kind, User-Agent and address, which a batch repeats often: that answer is remembered. Rules about
    the delivery are tried for every event, but only those ordered before the remembered match."""

    def __init__(self, rules: tuple[Rule, ...]) -> None:
        self.rules = rules
        self.patterns = {rule.id: re.compile(rule.pattern, re.IGNORECASE) for rule in rules
                         if rule.kind == "user_agent"}
        self.networks = {rule.id: tuple(ipaddress.ip_network(n, strict=False) for n in rule.networks)
                         for rule in rules if rule.kind == "network"}
        self.delivery_rules = [(order, rule) for order, rule in enumerate(rules) if rule.kind in DELIVERY_RULES]
        self._request_matches: dict[tuple[str, str, str], tuple[int, Rule | None]] = {}

    def needs_history(self, kind: str) -> bool:
        return any(rule.covers(kind) for _, rule in self.delivery_rules)

    def longest_burst(self) -> float:
        return max((rule.seconds or 0.0 for _, rule in self.delivery_rules if rule.kind == "link_burst"),
                   default=0.0)

    def first_match(self, sighting: Sighting, history: DeliveryHistory | None, bursts: set[int]) -> Rule | None:
        """The first rule that calls the event a robot's; `bursts` holds the ids of the link_burst rules
        whose burst the event is part of."""
        order, found = self._request_match(sighting.kind, sighting.agent, sighting.address)
        for position, rule in self.delivery_rules:
            if position > order:
                break
            if rule.covers(sighting.kind) and (rule.id in bursts if rule.kind == "link_burst"
                                               else _soon_after_delivery(rule, sighting, history)):
                return rule
        return found

    def _request_match(self, kind: str, agent: str, address: str) -> tuple[int, Rule | None]:
        """(order, rule) of the first request rule that matches, (number of rules, None) when none does."""
        key = (kind, agent, address)
        found = self._request_matches.get(key)
        if found is None:
            if len(self._request_matches) >= _MEMO_MAX:
                self._request_matches.clear()
            found = self._request_matches[key] = next(
                ((order, rule) for order, rule in enumerate(self.rules)
                 if rule.kind not in DELIVERY_RULES and rule.covers(kind) and self._matches(rule, agent, address)),
                (len(self.rules), None))
        return found

    def _matches(self, rule: Rule, agent: str, address: str) -> bool:
        if rule.kind == "known_robots":
            return known_robot(agent)
        if rule.kind == "user_agent":
            return self.patterns[rule.id].search(agent) is not None
        parsed = _address(address)
        return parsed is not None and any(parsed in network for network in self.networks[rule.id]
                                          if network.version == parsed.version)


def _soon_after_delivery(rule: Rule, sighting: Sighting, history: DeliveryHistory | None) -> bool:
    if history is None or history.sent_at is None or rule.seconds is None:
        return False
    return (sighting.at - history.sent_at).total_seconds() < rule.seconds


@lru_cache(maxsize=512)
def compiled(rules: tuple[Rule, ...]) -> RuleSet:
    return RuleSet(rules)


def burst_members(clicks: Sequence[tuple[float, int | None, int | None]], links: int, seconds: float) -> set[int]:
    """Tags of the clicks (seconds, link, tag) lying in some window of `seconds` that holds at least `links`
    different links; clicks tagged None (already stored) count but are not returned."""
    ordered = sorted(clicks, key=lambda click: click[0])
    seen: Counter[int | None] = Counter()
    members: set[int] = set()
    end = 0
    marked_to = 0
    for start, (began, _, _) in enumerate(ordered):
        while end < len(ordered) and ordered[end][0] - began <= seconds:
            seen[ordered[end][1]] += 1
            end += 1
        if len(seen) >= links:
            members.update(tag for _, _, tag in ordered[max(start, marked_to):end] if tag is not None)
            marked_to = end
        seen[ordered[start][1]] -= 1
        if not seen[ordered[start][1]]:
            del seen[ordered[start][1]]
    return members


def _rule(row: Mapping[str, Any]) -> Rule:
    return Rule(row["id"], row["name"], row["kind"], row["applies_to"], row["pattern"], tuple(row["networks"]),
                row["links"], float(row["seconds"]) if row["seconds"] is not None else None)


async def rule_sets(workspace_ids: Iterable[int]) -> dict[int, RuleSet]:
    """Each workspace's enabled rules, in order (a workspace without any gets an empty set)."""
    ids = sorted(set(workspace_ids))
    found: dict[int, list[Rule]] = {workspace_id: [] for workspace_id in ids}
    for row in await statements.run("robots.enabled-rules", ids):
        found[row["workspace_id"]].append(_rule(row))
    return {workspace_id: compiled(tuple(rules)) for workspace_id, rules in found.items()}


async def histories(sightings: Sequence[Sighting], sets: Mapping[int, RuleSet],
                    clicks_in_flight: Mapping[int, list[tuple[datetime, int | None]]]) -> dict[int, DeliveryHistory]:
    """Send time and recent stored clicks of the deliveries whose events a delivery rule may judge, with the
    clicks of a batch being written meanwhile (a click both stored and in flight counts once in a burst)."""
    wanted = {(s.workspace_id, s.delivery_id) for s in sightings if sets[s.workspace_id].needs_history(s.kind)}
    if not wanted:
        return {}
    window = max(sets[workspace_id].longest_burst() for workspace_id, _ in wanted)
    since = min(s.at for s in sightings) - timedelta(seconds=window)
    workspaces, deliveries = zip(*sorted(wanted), strict=True)
    found: dict[int, DeliveryHistory] = {}
    for row in await statements.run("robots.delivery-history", list(workspaces), list(deliveries), since):
        history = found.setdefault(row["delivery_id"], DeliveryHistory(row["sent_at"]))
        if row["occurred_at"] is not None:
            history.clicks.append((row["occurred_at"], row["link_index"]))
    for delivery_id, history in found.items():
        history.clicks.extend(clicks_in_flight.get(delivery_id, ()))
    return found


def _bursts(sightings: Sequence[Sighting], sets: Mapping[int, RuleSet],
            found: Mapping[int, DeliveryHistory]) -> dict[int, set[int]]:
    """For each sighting (by position) the link_burst rules whose burst it belongs to."""
    clicks: dict[int, list[tuple[float, int | None, int | None]]] = {}
    for position, sighting in enumerate(sightings):
        if sighting.kind == CLICK:
            clicks.setdefault(sighting.delivery_id, []).append((sighting.at.timestamp(), sighting.link, position))
    members: dict[int, set[int]] = {}
    for delivery_id, batch in clicks.items():
        workspace_id = sightings[batch[0][2]].workspace_id
        stored = [(at.timestamp(), link, None) for at, link in found.get(delivery_id, DeliveryHistory()).clicks]
        for rule in sets[workspace_id].rules:
            if rule.kind == "link_burst" and rule.links and rule.seconds is not None:
                for position in burst_members([*stored, *batch], rule.links, rule.seconds):
                    members.setdefault(position, set()).add(rule.id)
    return members


async def robot_rules_for(sightings: Sequence[Sighting],
                          clicks_in_flight: Mapping[int, list[tuple[datetime, int | None]]]) -> list[Rule | None]:
    """For each sighting, the rule that makes it a robot's, or None for a person's (and for other kinds);
    `clicks_in_flight` are the clicks per delivery of a batch being written meanwhile."""
    if not sightings:
        return []
    sets = await rule_sets(s.workspace_id for s in sightings)
    found = await histories(sightings, sets, clicks_in_flight)
    bursts = _bursts(sightings, sets, found)
    return [sets[s.workspace_id].first_match(s, found.get(s.delivery_id), bursts.get(position, set()))
            if s.kind in ROBOT_KINDS else None for position, s in enumerate(sightings)]
