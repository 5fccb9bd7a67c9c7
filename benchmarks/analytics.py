"""Analytics figures: the portal's pages over 90 days of a busy workspace, the rollups' lag behind tracking, and
the volume planner.

    .venv/bin/python benchmarks/analytics.py [--quick]

The workspace (benchmarks/analytics_seed.py says what is in it) holds 10,000,000 deliveries and about
50,000,000 events over the 90 days before it was seeded (--quick: a tenth), five servers, six domain groups
and 100 campaigns. It is seeded in set-based SQL the first time and kept between runs (seeding the full one
takes many minutes); a run of the other size drops it and seeds its own. The web server is started as `make
run` starts it (`ignite web`: granian, WEB_WORKERS processes, `app.main:create_server`) on a free loopback
port, and every page is fetched over HTTP by an analyst who signed in, one request at a time.

Figures:
- rollup_rebuild_s: `rollups.rebuild` over the seeded 90 days of the workspace (the hour and day rollups
  recomputed from deliveries, bounces, events and conversions, one day per transaction)
- analytics_esp_p95_ms: the ESP performance page over the last 7 seeded days with two servers compared
  (trend charts drawn), each pair of neighbouring servers in turn; 100 requests (after 5 not counted)
- analytics_pnl_p95_ms: the P&L page over the last 30 seeded days; 100 requests
- analytics_campaign_p95_ms: the campaign report an analyst opens from the revenue and P&L tables
  (`/mailing/campaigns/<id>`: figures, engagement, click map, send log), ten campaigns of the last 30 days
  (every third, newest to oldest) in turn; 100 requests
- analytics_page_p95_ms: the 95th percentile of those 300 requests together (the three pages are fetched in
  turn, so each sees the same conditions)
- rollup_lag_s: under the tracking benchmark's load (benchmarks/tracking.py: wrk with 32 connections on the
  open pixels of a sent campaign, then on its links, 20 s each, 8 s with --quick, while an aggregator in this
  process drains the stream as its actor does), 20 marker opens spread over the load, each of a delivery in
  a domain group of its own: from the pixel's answer to the marker's open counted in `performance_hours`
  (read every 50 ms), the largest; rollup_lag_p50_s the median
- planner_ms: `planner.plan` of a 90-day plan for 2,000,000 a day over the seeded servers (quotas, two on
  warm-up plans, prices, eCPM and deliverability per group) and six domain groups; the median of 7 runs
- planner_scenario_ms: the same through the scenario service (`scenarios.planning_inputs`, which reads the
  servers, plans, domain groups, audience mix and 30 days of rollups from the workspace, then `plan`);
  the median of 5 runs

Uses DATABASE_URL / REDIS_URL when set, else embedded servers under .data/bench. wrk is the Debian package.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.settings import data_dir
from benchmarks.analytics_seed import (
    DOMAINS,
    GROUP_LIMITS,
    SERVERS,
    WARMUP_PLANS,
    Dataset,
    seeded,
)
from benchmarks.tracking import (
    aggregate_while,
    drain_backlog,
    ensure_wrk,
    run_wrk,
    setup,
    start_web,
    tracked_paths,
    written,
)

BENCH = data_dir() / "bench"
REQUESTS = 100
WARM_UP_REQUESTS = 5
MARKERS = 20
POLL_SECONDS = 0.05
BROWSER = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0"
TARGET = 2_000_000
HORIZON = 90


def report(name: str, value: str) -> None:
    print(f"{name}: {value}", flush=True)


def p95(timings: list[float]) -> float:
    return statistics.quantiles(timings, n=20)[18]


async def rebuild_figure(dataset: Dataset) -> None:
    from app.db.accounts import Workspace
    from app.services.analytics import rollups

    started = time.perf_counter()
    await rollups.rebuild(dataset.start, dataset.end, dataset.workspace_id)
    report("rollup_rebuild_s", f"{time.perf_counter() - started:.1f} s")
    # Fresh statistics, as autovacuum keeps them for tables that change this much.
    await Workspace.raw("ANALYZE performance_hours, performance_days, conversion_days")


def planner_inputs(start: date):
    """A 90-day plan's inputs shaped like the seeded workspace: its servers, warm-ups and groups."""
    from app.services.analytics.planner import GroupInput, PlanInputs, ServerInput

    groups = {}
    for _, group, weight in DOMAINS:
        groups[group] = groups.get(group, 0) + weight
    servers = [ServerInput(
        id=n + 1, name=server.name, daily_quota=server.daily_quota, hourly_quota=server.hourly_quota,
        per_second=server.per_second, monthly_quota=server.monthly_quota,
        warmup_caps=tuple(WARMUP_PLANS.get(server.warmup, ())), warmup_day=max(server.warmup_day, 1),
        cost_per_thousand=server.cost_per_thousand, fixed_per_day=(server.monthly_cost * 12 / 365).quantize(
            Decimal("0.0001")),
        # Revenue per 1,000 from the server's conversion rate at an average sale, better at the big mailbox
        # providers; deliverability from its bounce rate.
        ecpm={group: Decimal(server.conversions * 25 * (12 - g) / 100 / 10).quantize(Decimal("0.0001"))
              for g, group in enumerate(groups)},
        deliverability={group: 1 - server.bounces / 100_000 for group in groups})
        for n, server in enumerate(SERVERS)]
    return PlanInputs(target=TARGET, days=HORIZON, start=start, servers=servers, groups=[
        GroupInput(group, weight * 2000, GROUP_LIMITS.get(group, 0)) for group, weight in groups.items()])


async def planner_figures(dataset: Dataset) -> None:
    from app.services import warmup_plans
    from app.services.analytics import scenarios
    from app.services.analytics.planner import plan
    from app.services.delivery_servers import servers as workspace_servers

    today = dataset.last + timedelta(days=1)
    inputs = planner_inputs(today)
    runs = []
    for _ in range(7):
        started = time.perf_counter()
        made = plan(inputs)
        runs.append(time.perf_counter() - started)
    if len(made.days) != HORIZON or not made.sent:
        raise SystemExit(f"the plan has {len(made.days)} days and sends {made.sent}")
    report("planner_ms", f"{statistics.median(runs) * 1000:.1f} ms")

    workspace = dataset.workspace_id
    servers = await workspace_servers(workspace)
    plans = await warmup_plans.plans_by_id(workspace)
    choices = scenarios.parsed_choices({
        "name": "Benchmark", "target": str(TARGET), "days": str(HORIZON), "start": today.isoformat(),
        **{f"include_{server['id']}": "on" for server in servers}}, servers, set(plans), today)
    runs = []
    for _ in range(5):
        started = time.perf_counter()
        made = plan(await scenarios.planning_inputs(workspace, choices, today))
        runs.append(time.perf_counter() - started)
    if len(made.inputs.servers) != len(SERVERS) or len(made.inputs.groups) != 6 or not made.sent:
        raise SystemExit(f"the scenario planned {len(made.inputs.servers)} servers, {len(made.inputs.groups)} groups")
    report("planner_scenario_ms", f"{statistics.median(runs) * 1000:.1f} ms")


@dataclass
class Page:
    """One page's i-th address and a text its answer must hold."""

    figure: str
    address: Callable[[int], str]
    expected: str
    timings: list[float] = field(default_factory=list)


async def pages_of(dataset: Dataset) -> list[Page]:
    from app.services.sqlparams import Params, fetch

    params = Params()
    workspace = params.add(dataset.workspace_id)
    servers = [row["id"] for row in await fetch(
        f"SELECT id FROM delivery_servers WHERE workspace_id = {workspace} ORDER BY id", params)]
    params = Params()
    # Every third of the latest 30: the campaigns of the P&L page's month, from its newest to its oldest.
    campaigns = [row["id"] for row in await fetch(
        f"SELECT id FROM campaigns WHERE workspace_id = {params.add(dataset.workspace_id)} "
        "ORDER BY started_at DESC LIMIT 30", params)][::3]
    week = f"since={dataset.last - timedelta(days=6)}&until={dataset.last}"
    month = f"since={dataset.last - timedelta(days=29)}&until={dataset.last}"
    return [
        Page("analytics_esp_p95_ms", lambda i: f"/analytics/esp-performance/?{week}&servers="
             f"{servers[i % len(servers)]},{servers[(i + 1) % len(servers)]}", 'data-testid="esp-trends"'),
        Page("analytics_pnl_p95_ms", lambda i: f"/analytics/pnl/?{month}", 'data-testid="pnl-period-totals"'),
        Page("analytics_campaign_p95_ms", lambda i: f"/mailing/campaigns/{campaigns[i % len(campaigns)]}",
             'data-testid="click-map"'),
    ]


async def signed_in_client(port: int, workspace_id: int):
    """An HTTP client of the server, signed in as an analyst of the workspace, and the user."""
    import httpx

    from app.services.accounts import add_member, create_user

    password = "benchmark password 1"
    user = await create_user(f"analytics-bench-{time.time_ns()}@example.com", password)
    await add_member(workspace_id, user["id"], "analyst")
    client = httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=120)
    await client.get("/login")
    answer = await client.post("/login", data={"email": user["email"], "password": password,
                                               "_csrf_token": client.cookies.get("ignite_csrf", "")})
    if answer.status_code >= 400:
        raise SystemExit(f"signing in was answered {answer.status_code}")
    return client, user


async def page_figures(port: int, dataset: Dataset) -> None:
    import logging

    from app.db.accounts import User

    logging.getLogger("httpx").setLevel(logging.WARNING)
    pages = await pages_of(dataset)
    client, user = await signed_in_client(port, dataset.workspace_id)
    try:
        for i in range(-WARM_UP_REQUESTS, REQUESTS):
            for page in pages:
                address = page.address(i)
                started = time.perf_counter()
                answer = await client.get(address)
                elapsed = (time.perf_counter() - started) * 1000
                if answer.status_code != 200 or page.expected not in answer.text:
                    raise SystemExit(f"{address} was answered {answer.status_code} without {page.expected}")
                if i >= 0:
                    page.timings.append(elapsed)
    finally:
        await client.aclose()
        await User.delete().where(User.id == user["id"])
    for page in pages:
        report(page.figure, f"{p95(page.timings):.1f} ms")
    report("analytics_page_p95_ms", f"{p95([timing for page in pages for timing in page.timings]):.1f} ms")


@dataclass(frozen=True)
class Marker:
    path: str  # its open pixel
    token: str
    group: str  # the domain group it alone is counted under


async def markers_of(workspace: dict, campaign: dict) -> list[Marker]:
    """The last MARKERS deliveries of the campaign, each moved to a domain group of its own."""
    from app.services.sqlparams import Params, fetch
    from app.services.tracking.tokens import tracking_keys
    from app.services.tracking.urls import DeliveryTracker
    from app.settings import get_settings

    params = Params()
    rows = await fetch(
        "UPDATE deliveries d SET domain_group = 'Marker ' || d.id FROM (SELECT id FROM deliveries "
        f"WHERE campaign_id = {params.add(campaign['id'])} ORDER BY id DESC LIMIT {MARKERS}) m "
        "WHERE d.id = m.id RETURNING d.id, d.domain_group", params)
    tracker = DeliveryTracker("", tracking_keys(get_settings()), workspace["id"], campaign["id"], 1)
    return [Marker(tracker.url(str(row["id"])), tracker.token(str(row["id"])), row["domain_group"])
            for row in sorted(rows, key=lambda row: row["id"])]


async def counted_after(workspace_id: int, group: str, answered: float) -> float:
    """Seconds from `answered` until the marker's open is in `performance_hours`."""
    from app.services.sqlparams import Params, fetch

    while time.perf_counter() - answered < 300:
        params = Params()
        if await fetch(f"SELECT 1 FROM performance_hours WHERE workspace_id = {params.add(workspace_id)} "
                       f"AND domain_group = {params.add(group)} AND human_opens + machine_opens > 0", params):
            return time.perf_counter() - answered
        await asyncio.sleep(POLL_SECONDS)
    raise SystemExit(f"the open of {group} was not counted in 5 minutes")


async def marker_lags(port: int, workspace_id: int, markers: list[Marker], seconds: float) -> list[float]:
    """Each marker opened in turn, spread over `seconds`; the lag of each."""
    import httpx

    waiting = []
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", headers={"User-Agent": BROWSER}) as client:
        for marker in markers:
            await asyncio.sleep(seconds / (len(markers) + 1))
            answer = await client.get(marker.path)
            answered = time.perf_counter()
            if answer.status_code != 200:
                raise SystemExit(f"the marker {marker.path} was answered {answer.status_code}")
            waiting.append(asyncio.create_task(counted_after(workspace_id, marker.group, answered)))
        return list(await asyncio.gather(*waiting))


async def lag_figures(port: int, quick: bool) -> None:
    from app.db.accounts import Workspace
    from app.redis_client import get_redis
    from app.services.tracking.aggregator import ensure_group
    from app.services.tracking.partitions import ensure_partitions

    wrk = ensure_wrk()
    seconds = 8 if quick else 20
    await ensure_partitions()
    started_at = time.time()
    workspace, campaign = await setup((2000 if quick else 20_000) + MARKERS)
    markers = await markers_of(workspace, campaign)
    folder = Path(tempfile.mkdtemp(prefix="ignite-analytics-bench-"))
    open_lines, click_lines = await tracked_paths(workspace, campaign)
    paths, tokens = {marker.path for marker in markers}, {marker.token for marker in markers}
    opens = written([line for line in open_lines if line not in paths], folder, "opens.txt")
    clicks = written([line for line in click_lines if line.split("/")[2] not in tokens], folder, "clicks.txt")
    redis = get_redis()
    await ensure_group(redis)
    await drain_backlog(redis)
    try:
        stop = asyncio.Event()
        aggregating = asyncio.create_task(aggregate_while(redis, stop, []))
        # A second of clicks first: each web process learns the link table once, as in production.
        await run_wrk(wrk, port, "/c/", clicks, 1)

        async def load() -> None:
            await run_wrk(wrk, port, "/o/", opens, seconds)
            await run_wrk(wrk, port, "/c/", clicks, seconds)

        _, lags = await asyncio.gather(load(), marker_lags(port, workspace["id"], markers, 2 * seconds))
        stop.set()
        await aggregating
        report("rollup_lag_s", f"{max(lags):.2f} s")
        report("rollup_lag_p50_s", f"{statistics.median(lags):.2f} s")
    finally:
        await Workspace.raw("DELETE FROM events WHERE workspace_id = {} AND occurred_at >= to_timestamp({})",
                            workspace["id"], started_at - 60)
        await Workspace.delete().where(Workspace.id == workspace["id"])
        shutil.rmtree(folder, ignore_errors=True)


async def measure(quick: bool) -> None:
    from app.db.migrating import migrate
    from app.embedded import free_port

    await migrate()
    dataset = await seeded(1_000_000 if quick else 10_000_000, 5_000_000 if quick else 50_000_000)
    await rebuild_figure(dataset)
    await planner_figures(dataset)
    port = free_port()
    web = start_web(port, factory="app.main:create_server")
    try:
        await page_figures(port, dataset)
        await lag_figures(port, quick)
    finally:
        web.terminate()
        web.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="1,000,000 deliveries and 5,000,000 events, 8 s of load per endpoint")
    options = parser.parse_args()
    if not os.environ.get("DATABASE_URL"):
        from app.embedded import ensure_services

        services = ensure_services(BENCH, 54339, 63809)
        os.environ.update({"DATABASE_URL": services.database_url, "REDIS_URL": services.redis_url})
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    asyncio.run(measure(options.quick))


if __name__ == "__main__":
    main()
