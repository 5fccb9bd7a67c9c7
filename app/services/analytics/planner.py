"""The volume planner: a day-by-day plan per server and domain group that never exceeds a cap.

Pure maths, no I/O (`scenarios.py` reads the inputs from the workspace). Each day, the servers' capacity
is the smallest of their daily quota, hourly quota x 24, per-second rate x 86,400, a fair share of what is
left of the month's quota, and that day's warm-up cap (the schedule is assumed to advance one day per day,
as it does while health holds). Each domain group asks for its share of the target (the audience's domain
mix), and a server may send a group at most the group's hourly limit x 24 a day (routing's per server and
group bucket). Within those caps the day's volume is the largest possible, and among the allocations that
reach it the one with the most expected profit (measured eCPM - cost per 1,000, deliverability breaking
ties): a min-cost max-flow over groups → servers, small enough (a dozen nodes) to solve exactly per day.
"""

from __future__ import annotations

import calendar
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

# Larger than any target a form accepts: an edge "without limit".
UNLIMITED = 10**15
SECONDS_PER_DAY = 86_400
THOUSAND = Decimal(1000)


@dataclass(frozen=True)
class ServerInput:
    id: int
    name: str
    # 0 means no limit, as on the server's form.
    daily_quota: int = 0
    hourly_quota: int = 0
    per_second: int = 0
    monthly_quota: int = 0
    # The warm-up schedule and the schedule day the plan's first day falls on; no caps means not warming up.
    warmup_caps: tuple[int, ...] = ()
    warmup_day: int = 1
    cost_per_thousand: Decimal = Decimal(0)
    fixed_per_day: Decimal = Decimal(0)
    # Per domain group name: revenue per 1,000 sent, and the share of sends accepted without a bounce.
    ecpm: Mapping[str, Decimal] = field(default_factory=dict)
    deliverability: Mapping[str, float] = field(default_factory=dict)

    def warmup_cap(self, offset: int) -> int | None:
        """The warm-up cap `offset` days after the plan starts; None once the schedule is over."""
        day = max(self.warmup_day, 1) + offset
        return self.warmup_caps[day - 1] if day <= len(self.warmup_caps) else None

    def own_daily_limit(self) -> int:
        limits = [self.daily_quota, self.hourly_quota * 24, self.per_second * SECONDS_PER_DAY]
        return min((limit for limit in limits if limit > 0), default=UNLIMITED)


@dataclass(frozen=True)
class GroupInput:
    name: str
    # Subscribers of the audience in this group: the target is split in these proportions.
    audience: int
    hourly_limit: int = 0

    @property
    def daily_limit(self) -> int:
        return self.hourly_limit * 24 if self.hourly_limit > 0 else UNLIMITED


@dataclass(frozen=True)
class PlanInputs:
    target: int
    days: int
    start: date
    servers: Sequence[ServerInput]
    groups: Sequence[GroupInput]


@dataclass(frozen=True)
class PlanDay:
    day: date
    # (server id, domain group name) → messages; only cells above 0.
    sends: Mapping[tuple[int, str], int]
    # Server id → the most it could send that day.
    capacity: Mapping[int, int]
    total: int
    delivered: int
    cost: Decimal
    revenue: Decimal


@dataclass(frozen=True)
class Plan:
    inputs: PlanInputs
    days: tuple[PlanDay, ...]
    # The first day (1-based) the plan sends the whole target; None when it never does within the horizon.
    days_to_target: int | None
    # Why the last day falls short of the target, in words; "" when it does not.
    shortfall: str

    @property
    def sent(self) -> int:
        return sum(day.total for day in self.days)

    @property
    def cost(self) -> Decimal:
        return sum((day.cost for day in self.days), Decimal(0))

    @property
    def revenue(self) -> Decimal:
        return sum((day.revenue for day in self.days), Decimal(0))

    @property
    def final_daily(self) -> int:
        return self.days[-1].total if self.days else 0


def demands(target: int, groups: Sequence[GroupInput]) -> list[int]:
    """The target split across groups in proportion to the audience (largest remainders), summing to it."""
    weights = [max(group.audience, 0) for group in groups]
    total = sum(weights)
    if not groups:
        return []
    if total == 0:
        weights, total = [1] * len(groups), len(groups)
    shares = [target * weight // total for weight in weights]
    remainders = sorted(range(len(groups)), key=lambda i: (-(target * weights[i] % total), i))
    for index in remainders[:target - sum(shares)]:
        shares[index] += 1
    return shares


def _unit_value(server: ServerInput, group: str) -> int:
    """Expected profit of one message in millionths of the currency, plus a tie-break on deliverability."""
    profit = (server.ecpm.get(group, Decimal(0)) - server.cost_per_thousand) / THOUSAND
    return int(profit * 1_000_000) * 1000 + int(server.deliverability.get(group, 0.0) * 999)


class _Flow:
    """A residual graph with integer capacities and costs, solved by successive shortest paths."""

    def __init__(self, nodes: int) -> None:
        self.head: list[list[int]] = [[] for _ in range(nodes)]
        self.to: list[int] = []
        self.cap: list[int] = []
        self.cost: list[int] = []

    def edge(self, a: int, b: int, capacity: int, cost: int) -> int:
        for node, other, room, price in ((a, b, capacity, cost), (b, a, 0, -cost)):
            self.head[node].append(len(self.to))
            self.to.append(other)
            self.cap.append(room)
            self.cost.append(price)
        return len(self.to) - 2

    def _cheapest_path(self, source: int, sink: int) -> list[int] | None:
        """The edges of a cheapest path with room (Bellman-Ford by queue: costs may be negative)."""
        distance = [None] * len(self.head)
        via = [-1] * len(self.head)
        distance[source] = 0
        queue, queued = deque([source]), {source}
        while queue:
            node = queue.popleft()
            queued.discard(node)
            for edge in self.head[node]:
                if self.cap[edge] <= 0:
                    continue
                other, reached = self.to[edge], distance[node] + self.cost[edge]
                if distance[other] is None or reached < distance[other]:
                    distance[other], via[other] = reached, edge
                    if other not in queued:
                        queue.append(other)
                        queued.add(other)
        if distance[sink] is None:
            return None
        path, node = [], sink
        while node != source:
            edge = via[node]
            path.append(edge)
            node = self.to[edge ^ 1]
        return path

    def run(self, source: int, sink: int) -> None:
        while (path := self._cheapest_path(source, sink)) is not None:
            room = min(self.cap[edge] for edge in path)
            for edge in path:
                self.cap[edge] -= room
                self.cap[edge ^ 1] += room


def allocate(wanted: Sequence[int], capacity: Sequence[int], pair_limits: Sequence[int],
             values: Sequence[Sequence[int]]) -> list[list[int]]:
    """sends[server][group]: the most volume within the caps, the most valuable way."""
    groups, servers = len(wanted), len(capacity)
    sink = groups + servers + 1
    flow = _Flow(sink + 1)
    for g, amount in enumerate(wanted):
        flow.edge(0, 1 + g, amount, 0)
    cells = [[flow.edge(1 + g, 1 + groups + s, pair_limits[g], -values[s][g]) for g in range(groups)]
             for s in range(servers)]
    for s, room in enumerate(capacity):
        flow.edge(1 + groups + s, sink, room, 0)
    flow.run(0, sink)
    return [[flow.cap[edge ^ 1] for edge in row] for row in cells]


def _month_share(server: ServerInput, day: date, used_this_month: int) -> int:
    """An even share of what is left of the monthly quota over the month's remaining days."""
    if server.monthly_quota <= 0:
        return UNLIMITED
    left_days = calendar.monthrange(day.year, day.month)[1] - day.day + 1
    return max(server.monthly_quota - used_this_month, 0) // left_days


def _shortfall(total: int, target: int, capacity: Sequence[int], wanted: Sequence[int],
               groups: Sequence[GroupInput], servers: int) -> str:
    """Why the last day falls short, with what would lift it: quotas, or each tight group's hourly limit per
    server that its share of the target needs over the servers planned (a floor when a server's own caps bind)."""
    if total >= target:
        return ""
    room = sum(capacity)
    if room < target:
        return f"the servers' quotas and warm-up caps allow {room:,} a day: raise their quotas or add servers"
    tight = [f"{group.name} ({group.hourly_limit:,} an hour per server; {-(-amount // (24 * servers)):,} needed)"
             for group, amount in zip(groups, wanted, strict=True) if group.daily_limit * servers < amount]
    return ("hourly limits of " + ", ".join(tight) if tight else "per group limits") + \
        f" allow {total:,} a day" + (f" over {servers:,} server{'s' if servers != 1 else ''}" if tight else "")


def plan(inputs: PlanInputs) -> Plan:
    """The day-by-day plan for `inputs`."""
    servers, groups = list(inputs.servers), list(inputs.groups)
    wanted = demands(inputs.target, groups)
    pair_limits = [group.daily_limit for group in groups]
    values = [[_unit_value(server, group.name) for group in groups] for server in servers]
    own = [server.own_daily_limit() for server in servers]
    ecpm = [[server.ecpm.get(group.name, Decimal(0)) / THOUSAND for group in groups] for server in servers]
    fixed = sum((server.fixed_per_day for server in servers), Decimal(0))
    solved: dict[tuple[int, ...], list[list[int]]] = {}
    month_used = [0] * len(servers)
    days: list[PlanDay] = []
    capacity: list[int] = []
    for offset in range(inputs.days):
        day = inputs.start + timedelta(days=offset)
        if day.day == 1:
            month_used = [0] * len(servers)
        capacity = [min(own[i], _month_share(server, day, month_used[i]),
                        UNLIMITED if (cap := server.warmup_cap(offset)) is None else cap)
                    for i, server in enumerate(servers)]
        key = tuple(capacity)
        if key not in solved:
            solved[key] = allocate(wanted, capacity, pair_limits, values)
        sends = solved[key]
        days.append(_day(day, servers, groups, sends, capacity, ecpm, fixed))
        month_used = [used + sum(row) for used, row in zip(month_used, sends, strict=True)]
    reached = next((index + 1 for index, day in enumerate(days) if day.total >= inputs.target), None)
    last = days[-1].total if days else 0
    return Plan(inputs=inputs, days=tuple(days), days_to_target=reached,
                shortfall=_shortfall(last, inputs.target, capacity, wanted, groups, len(servers)) if days else "")


def _day(day: date, servers: Sequence[ServerInput], groups: Sequence[GroupInput], sends: list[list[int]],
         capacity: list[int], ecpm: list[list[Decimal]], fixed: Decimal) -> PlanDay:
    cells: dict[tuple[int, str], int] = {}
    revenue, variable, delivered = Decimal(0), Decimal(0), 0.0
    for s, server in enumerate(servers):
        row = sends[s]
        for g, count in enumerate(row):
            if count:
                name = groups[g].name
                cells[(server.id, name)] = count
                revenue += count * ecpm[s][g]
                delivered += count * server.deliverability.get(name, 1.0)
        variable += sum(row) * server.cost_per_thousand
    return PlanDay(day=day, sends=cells, capacity={server.id: capacity[s] for s, server in enumerate(servers)},
                   total=sum(cells.values()), delivered=round(delivered),
                   cost=(variable / THOUSAND + fixed).quantize(Decimal("0.01")),
                   revenue=revenue.quantize(Decimal("0.01")))
