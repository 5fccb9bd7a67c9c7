"""The volume planner over random ESP and audience mixes: never above a cap, and the target whenever it fits."""

from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from app.services.analytics.planner import GroupInput, PlanInputs, ServerInput, allocate, demands, plan

GROUP_NAMES = ("Gmail", "Yahoo/AOL", "Microsoft", "Apple", "Others", "Comcast")
money = st.decimals(min_value=0, max_value=50, places=2)


@st.composite
def servers(draw, count: int, groups: list[str]) -> list[ServerInput]:
    return [ServerInput(
        id=index + 1, name=f"esp{index + 1}",
        daily_quota=draw(st.sampled_from([0, draw(st.integers(1, 2_000_000))])),
        hourly_quota=draw(st.sampled_from([0, draw(st.integers(1, 100_000))])),
        per_second=draw(st.sampled_from([0, 0, draw(st.integers(1, 50))])),
        monthly_quota=draw(st.sampled_from([0, 0, draw(st.integers(1, 30_000_000))])),
        warmup_caps=tuple(draw(st.lists(st.integers(1, 500_000), max_size=40))),
        warmup_day=draw(st.integers(1, 45)),
        cost_per_thousand=draw(money),
        ecpm={name: draw(money) for name in groups},
        deliverability={name: draw(st.floats(0, 1)) for name in groups},
    ) for index in range(count)]


@st.composite
def mixes(draw) -> PlanInputs:
    names = list(GROUP_NAMES[:draw(st.integers(1, len(GROUP_NAMES)))])
    groups = [GroupInput(name, draw(st.integers(0, 1_000_000)),
                         draw(st.sampled_from([0, draw(st.integers(1, 50_000))]))) for name in names]
    return PlanInputs(target=draw(st.integers(0, 5_000_000)), days=draw(st.integers(1, 70)),
                      start=date(2026, 1, 1) + timedelta(days=draw(st.integers(0, 400))),
                      servers=draw(servers(draw(st.integers(1, 5)), names)), groups=groups)


def own_cap(server: ServerInput, offset: int) -> int | None:
    limits = [server.daily_quota, server.hourly_quota * 24, server.per_second * 86_400]
    schedule_day = server.warmup_day + offset
    if schedule_day <= len(server.warmup_caps):
        limits.append(server.warmup_caps[schedule_day - 1])
    limits = [limit for limit in limits if limit > 0]
    return min(limits) if limits else None


@settings(max_examples=150, deadline=None)
@given(mixes())
def test_a_plan_never_exceeds_a_quota_a_warmup_cap_or_a_group_limit(inputs):
    result = plan(inputs)
    groups = {group.name: group for group in inputs.groups}
    wanted = dict(zip(groups, demands(inputs.target, inputs.groups), strict=True))
    monthly: dict[tuple[int, int, int], int] = defaultdict(int)
    assert len(result.days) == inputs.days
    for offset, day in enumerate(result.days):
        assert day.day == inputs.start + timedelta(days=offset)
        per_server: dict[int, int] = defaultdict(int)
        per_group: dict[str, int] = defaultdict(int)
        for (server_id, group), count in day.sends.items():
            assert count > 0
            if groups[group].hourly_limit:
                assert count <= groups[group].hourly_limit * 24
            per_server[server_id] += count
            per_group[group] += count
        for server in inputs.servers:
            cap = own_cap(server, offset)
            if cap is not None:
                assert per_server[server.id] <= cap
            monthly[(server.id, day.day.year, day.day.month)] += per_server[server.id]
        assert all(per_group[name] <= wanted[name] for name in per_group)
        assert day.total == sum(day.sends.values()) <= inputs.target
    for server in inputs.servers:
        if server.monthly_quota:
            assert all(sent <= server.monthly_quota for (server_id, _, _), sent in monthly.items()
                       if server_id == server.id)


@st.composite
def feasible_days(draw) -> tuple[list[int], list[int], list[int], list[list[int]]]:
    """A day whose caps admit a hidden allocation that sends every group its whole demand."""
    group_count, server_count = draw(st.integers(1, 6)), draw(st.integers(1, 5))
    hidden = [[draw(st.integers(0, 100_000)) for _ in range(group_count)] for _ in range(server_count)]
    wanted = [sum(row[g] for row in hidden) for g in range(group_count)]
    capacity = [sum(row) + draw(st.integers(0, 50_000)) for row in hidden]
    pair_limits = [max((row[g] for row in hidden), default=0) + draw(st.integers(0, 1_000))
                   for g in range(group_count)]
    values = [[draw(st.integers(-10**6, 10**6)) for _ in range(group_count)] for _ in range(server_count)]
    return wanted, capacity, pair_limits, values


@settings(max_examples=200, deadline=None)
@given(feasible_days())
def test_a_day_reaches_its_target_whenever_the_caps_allow_it(day):
    wanted, capacity, pair_limits, values = day
    sends = allocate(wanted, capacity, pair_limits, values)
    assert [sum(row[g] for row in sends) for g in range(len(wanted))] == wanted
    assert all(sum(row) <= room for row, room in zip(sends, capacity, strict=True))


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 10**9), st.lists(st.integers(0, 10**7), min_size=1, max_size=6))
def test_the_target_is_split_by_the_audience_mix_without_losing_a_message(target, audience):
    shares = demands(target, [GroupInput(f"g{index}", count) for index, count in enumerate(audience)])
    assert sum(shares) == target
    if sum(audience):
        assert all(abs(share - target * count / sum(audience)) < 1 for share, count in zip(shares, audience,
                                                                                            strict=True))


def test_a_warming_server_ramps_up_and_the_plan_reaches_the_target_once_the_schedule_allows():
    groups = [GroupInput("Gmail", 600), GroupInput("Others", 400)]
    warming = ServerInput(1, "new", warmup_caps=(1_000, 10_000, 100_000), warmup_day=1,
                          cost_per_thousand=Decimal("0.50"), ecpm={"Gmail": Decimal(4), "Others": Decimal(2)})
    steady = ServerInput(2, "old", daily_quota=20_000, ecpm={"Gmail": Decimal(1), "Others": Decimal(1)})
    result = plan(PlanInputs(target=50_000, days=5, start=date(2026, 12, 6), servers=[warming, steady],
                             groups=groups))
    assert [day.total for day in result.days] == [21_000, 30_000, 50_000, 50_000, 50_000]
    assert result.days_to_target == 3
    assert result.days[0].sends[(1, "Gmail")] == 1_000
    assert result.days[2].sends == {(1, "Gmail"): 30_000, (1, "Others"): 20_000}
    assert result.days[2].cost == Decimal("25.00")
    assert result.days[2].revenue == Decimal("160.00")
    assert result.shortfall == ""


def test_a_target_beyond_every_cap_says_what_holds_it_back():
    result = plan(PlanInputs(target=1_000_000, days=3, start=date(2026, 12, 6),
                             servers=[ServerInput(1, "only", daily_quota=200_000)],
                             groups=[GroupInput("Gmail", 1)]))
    assert result.days_to_target is None
    assert result.final_daily == 200_000
    assert "200,000" in result.shortfall


def test_a_plan_held_back_by_hourly_limits_says_what_each_group_would_need():
    groups = [GroupInput("Gmail", 60, hourly_limit=500), GroupInput("Others", 40)]
    servers = [ServerInput(1, "one"), ServerInput(2, "two")]
    result = plan(PlanInputs(target=2_000_000, days=2, start=date(2026, 12, 6), servers=servers, groups=groups))
    # Gmail asks for 1,200,000 a day: 25,000 an hour on each of two servers; its limit lets through 24,000 a day.
    assert result.final_daily == 24_000 + 800_000
    assert result.shortfall == ("hourly limits of Gmail (500 an hour per server; 25,000 needed) allow 824,000 a day "
                                "over 2 servers")
