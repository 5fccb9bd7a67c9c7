"""Tracking figures: the open pixel and the click redirect under wrk, and the aggregator behind them.

    .venv/bin/python benchmarks/tracking.py [--quick]

The web server is started as `make run` starts it (`ignite web`: granian, WEB_WORKERS processes, the
app's factory), on a free loopback port, with one addition: a constant endpoint (`GET /c/const`, a
fixed 2-byte body, no I/O) registered on the same app beside the tracking routes, so it passes through
the same middleware and the ratio shows what the tracking handlers themselves cost. wrk runs each
endpoint for the same time with 32 connections (2 threads), cycling through valid URLs of a sent
campaign: one open pixel per delivery, and links of the campaign's message (the per-version link table).
While wrk runs, an aggregator in this process drains the stream into PostgreSQL.

Figures:
- open_rps, open_p99_ms, click_rps, click_p99_ms, const_rps, const_p99_ms: wrk's requests/s and 99th
  percentile
- tracking_ratio: the slower of open and click over the constant endpoint
- aggregator_lag_s: the largest age, sampled every 0.2 s under the wrk load, of the newest event the
  aggregator had not yet read
- aggregator_events_per_s: events written to PostgreSQL per second when the aggregator drains a
  backlog of 100,000 events (20,000 with --quick) on its own, through the loop its actor runs. The
  backlog is shaped like a campaign's traffic: three opens to a click, spread over the deliveries in
  turn, rather than dozens of clicks per delivery within a second

Uses DATABASE_URL / REDIS_URL when set, else embedded servers under .data/bench. wrk is the Debian
package: `apt-get install -y wrk` (done here when running as root and it is missing).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from litestar import Response, get
from litestar.types import ASGIApp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.settings import data_dir

BENCH = data_dir() / "bench"
CONNECTIONS = 32
THREADS = 2
HTML = "<html><body><p>Hello {{ first_name | default('there') }}</p>" + "".join(
    f'<p><a href="https://shop.example.com/p/{n}?ref=mail">Pick {n}</a></p>' for n in range(10)
) + '<p><a href="{{ unsubscribe_url }}">Unsubscribe</a></p></body></html>'
LINKS = 10
WRK_SCRIPT = """
local paths = {}
FILL_PATHS
local i = 0
request = function()
    i = i + 1
    return wrk.format("GET", paths[(i % #paths) + 1])
end
done = function(summary, latency, requests)
    local errors = summary.errors
    io.write(string.format("RESULT %d %d %d %d\\n", summary.requests, summary.duration,
        latency:percentile(99), errors.status + errors.connect + errors.read + errors.write + errors.timeout))
end
"""


@get("/c/const", include_in_schema=False)
async def constant() -> Response[bytes]:
    return Response(b"ok", media_type="text/plain")


def create_bench_app() -> ASGIApp:
    """The server `make run` starts, plus the constant endpoint the figures are compared with."""
    from app.main import create_app
    from app.routes.tracking import tracking_fast_path

    app = create_app()
    app.register(constant)
    return tracking_fast_path(app)


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() != 0:
        raise SystemExit("wrk is needed: apt-get install -y wrk")
    subprocess.run(["apt-get", "install", "-y", "wrk"], check=True, stdout=subprocess.DEVNULL)
    return shutil.which("wrk") or "wrk"


async def setup(deliveries: int) -> tuple[dict, dict]:
    from app.db.audience import Subscriber
    from app.services.accounts import create_workspace
    from app.services.lists import create_list

    workspace = await create_workspace(f"Tracking bench {int(time.time())}")
    mailing_list = await create_list(workspace["id"], {"name": "Benchmark"})
    await Subscriber.raw(
        "INSERT INTO subscribers (workspace_id, list_id, email, email_domain, status, confirmed_at) "
        "SELECT {}, {}, 'user' || g || '@example.com', 'example.com', 'confirmed', now() "
        "FROM generate_series(1, {}) g", workspace["id"], mailing_list["id"], deliveries)
    campaign = (await Subscriber.raw(
        "INSERT INTO campaigns (workspace_id, name, status, from_email, list_ids, snapshot_subject, snapshot_html, "
        "snapshot_version, snapshot_at, utm, created_at, updated_at) VALUES ({}, 'Benchmark', 'sent', "
        "'news@mail.example.com', ARRAY[{}::integer], 'Hi', {}, 1, now(), {}::jsonb, now(), now()) "
        "RETURNING *", workspace["id"], mailing_list["id"], HTML, '{"utm_source": "ignite"}'))[0]
    await Subscriber.raw(
        "INSERT INTO deliveries (workspace_id, campaign_id, subscriber_id, email, domain, status, next_attempt_at, "
        "sent_at, created_at, updated_at) SELECT {}, {}, id, email, email_domain, 'sent', now(), now(), now(), "
        "now() FROM subscribers WHERE list_id = {}", workspace["id"], campaign["id"], mailing_list["id"])
    return workspace, campaign


async def tracked_paths(workspace: dict, campaign: dict) -> tuple[list[str], list[str]]:
    """Open and click paths, as the tracker writes them into messages."""
    from app.db.campaigns import Delivery
    from app.services.tracking.tokens import tracking_keys
    from app.services.tracking.urls import DeliveryTracker
    from app.settings import get_settings

    tracker = DeliveryTracker("", tracking_keys(get_settings()), workspace["id"], campaign["id"], 1)
    ids = [row["id"] for row in await Delivery.select(Delivery.id).where(Delivery.campaign_id == campaign["id"])]
    return ([tracker.url(str(i)) for i in ids],
            [f"/c/{tracker.token(str(i))}/{n % LINKS}" for n, i in enumerate(ids)])


def written(lines: list[str], folder: Path, name: str) -> Path:
    path = folder / name
    path.write_text("".join(f"{line}\n" for line in lines))
    return path


def start_web(port: int, factory: str = "benchmarks.tracking:create_bench_app") -> subprocess.Popen[bytes]:
    """`ignite web` on `port`, serving `factory` (the bench app with its constant endpoint, unless told)."""
    from app.cli import web_command
    from app.embedded import port_is_open

    command = [part if part != "app.main:create_server" else factory for part in web_command(port)]
    metrics = Path(tempfile.mkdtemp(prefix="ignite-bench-metrics-"))
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(metrics), "BASE_URL": f"http://127.0.0.1:{port}"}
    web = subprocess.Popen(command, env=env, start_new_session=True, cwd=Path(__file__).resolve().parent.parent)
    deadline = time.monotonic() + 60
    while not port_is_open(port):
        if web.poll() is not None or time.monotonic() > deadline:
            raise SystemExit("the web server did not start")
        time.sleep(0.1)
    return web


def wrk_script(paths: Path | None, path: str) -> str:
    """A wrk script cycling through the lines of `paths`, or requesting `path` alone."""
    filling = (f'for line in io.lines("{paths}") do paths[#paths + 1] = line end' if paths
               else f'paths[1] = "{path}"')
    descriptor, name = tempfile.mkstemp(suffix=".lua")
    with os.fdopen(descriptor, "w") as script:
        script.write(WRK_SCRIPT.replace("FILL_PATHS", filling))
    return name


async def run_wrk(wrk: str, port: int, path: str, paths: Path | None, seconds: int) -> tuple[float, float]:
    """(requests/s, p99 ms) of one wrk run; fails when any response was an error."""
    script = wrk_script(paths, path)
    process = await asyncio.create_subprocess_exec(
        wrk, "-t", str(THREADS), "-c", str(CONNECTIONS), "-d", f"{seconds}s", "-s", script,
        f"http://127.0.0.1:{port}{path}", stdout=asyncio.subprocess.PIPE)
    output = (await process.communicate())[0].decode()
    os.unlink(script)
    found = re.search(r"^RESULT (\d+) (\d+) (\d+) (\d+)$", output, re.MULTILINE)
    if not found:
        raise SystemExit(f"wrk printed no result:\n{output}")
    requests, duration_us, p99_us, errors = (int(value) for value in found.groups())
    if errors:
        raise SystemExit(f"{errors} of {requests} requests to {path} failed:\n{output}")
    return requests / (duration_us / 1_000_000), p99_us / 1000


async def lag_seconds(redis) -> float:
    """How old the newest entry the aggregator has not read yet is (0 when it has read everything)."""
    from app.services.tracking.events import GROUP, STREAM

    stream = await redis.xinfo_stream(STREAM)
    groups = {group["name"]: group for group in await redis.xinfo_groups(STREAM)}
    last = str(stream["last-generated-id"])
    delivered = str(groups[GROUP]["last-delivered-id"])
    if last == delivered:
        return 0.0
    return max(0.0, (int(last.split("-")[0]) - int(delivered.split("-")[0])) / 1000)


@asynccontextmanager
async def worker_pool() -> AsyncIterator[None]:
    """The connection pool a worker process opens (app/tasks/middleware.py), which the aggregator actor runs with;
    without one, each batch paid for a new connection and planned its statement afresh."""
    from app.piccolo_conf import DB

    await DB.start_connection_pool(min_size=1, max_size=4)
    try:
        yield
    finally:
        await DB.close_connection_pool()


async def aggregate_while(redis, stop: asyncio.Event, lags: list[float]) -> None:
    """The aggregator actor's loop, in runs of a second, until `stop` and the stream is empty."""
    from app.services.tracking.aggregator import aggregate_for
    from app.services.tracking.tokens import tracking_keys
    from app.settings import get_settings

    settings = get_settings()

    async def sample() -> None:
        while not stop.is_set():
            lags.append(await lag_seconds(redis))
            await asyncio.sleep(0.2)

    async with worker_pool():
        sampler = asyncio.create_task(sample())
        while not stop.is_set():
            await aggregate_for(redis, tracking_keys(settings), 1.0, batch_size=settings.tracking.batch_size,
                                reclaim_after_ms=60_000, block_ms=100)
        await aggregate_for(redis, tracking_keys(settings), 3600, batch_size=settings.tracking.batch_size,
                            reclaim_after_ms=60_000, block_ms=0, until_empty=True)
        await sampler


async def drain_backlog(redis) -> int:
    from app.services.tracking.aggregator import consumer_name, drain_once
    from app.services.tracking.tokens import tracking_keys
    from app.settings import get_settings

    keys, consumer, recorded = tracking_keys(get_settings()), consumer_name(), 0
    while True:
        drained = await drain_once(redis, keys, consumer, batch_size=2000, block_ms=0, reclaim_after_ms=0)
        recorded += drained.recorded
        if not drained.read:
            return recorded


async def drain_rate(redis, events: int, open_lines: list[str], click_lines: list[str]) -> float:
    """Events per second written by one aggregator draining a backlog of `events` on its own: three opens
    to a click, the deliveries in turn."""
    from app.services.tracking.aggregator import aggregate_for
    from app.services.tracking.events import CLICK, FIELD, MAX_BATCH, OPEN, STREAM, event_line
    from app.services.tracking.tokens import tracking_keys
    from app.settings import get_settings

    agent = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0"
    deliveries = len(click_lines)
    # Entries as busy web processes append them: MAX_BATCH events each.
    for start in range(0, events, MAX_BATCH):
        batch = []
        for n in range(start, min(events, start + MAX_BATCH)):
            turn, delivery = divmod(n, deliveries)
            if turn % 4 == 3:
                _, _, token, link = click_lines[delivery].split("/")
                batch.append(event_line(CLICK, token, agent, "127.0.0.1", int(link)))
            else:
                batch.append(event_line(OPEN, open_lines[delivery].rsplit("/", 1)[1], agent, "127.0.0.1"))
        await redis.xadd(STREAM, {FIELD: "\n".join(batch)})
    settings = get_settings()
    started = time.perf_counter()
    # The aggregator actor's own loop, told to stop when the stream is empty rather than after a minute.
    async with worker_pool():
        recorded = (await aggregate_for(redis, tracking_keys(settings), 3600,
                                        batch_size=settings.tracking.batch_size, reclaim_after_ms=60_000,
                                        block_ms=0, until_empty=True)).recorded
    elapsed = time.perf_counter() - started
    if recorded != events:
        raise SystemExit(f"the aggregator recorded {recorded} of {events} events")
    return events / elapsed


async def measure(quick: bool, figures: dict[str, str]) -> None:
    from app.db.accounts import Workspace
    from app.db.audience import Subscriber
    from app.db.migrating import migrate
    from app.embedded import free_port
    from app.redis_client import get_redis
    from app.services.tracking.aggregator import ensure_group

    await migrate()
    wrk = ensure_wrk()
    seconds = 8 if quick else 20
    workspace, campaign = await setup(2000 if quick else 20_000)
    folder = Path(tempfile.mkdtemp(prefix="ignite-tracking-bench-"))
    open_lines, click_lines = await tracked_paths(workspace, campaign)
    opens, clicks = written(open_lines, folder, "opens.txt"), written(click_lines, folder, "clicks.txt")
    redis = get_redis()
    await ensure_group(redis)
    # Whatever earlier runs left in the stream is drained first, so the lag measured is this run's.
    await drain_backlog(redis)
    port = free_port()
    web = start_web(port)
    try:
        stop, lags = asyncio.Event(), []
        aggregating = asyncio.create_task(aggregate_while(redis, stop, lags))
        # A second of clicks first: each web process learns the link table once, as in production.
        await run_wrk(wrk, port, "/c/", clicks, 1)
        open_rps, open_p99 = await run_wrk(wrk, port, "/o/", opens, seconds)
        click_rps, click_p99 = await run_wrk(wrk, port, "/c/", clicks, seconds)
        stop.set()
        await aggregating
        const_rps, const_p99 = await run_wrk(wrk, port, "/c/const", None, seconds)
        figures["open_rps"] = f"{open_rps:.0f} requests/s"
        figures["open_p99_ms"] = f"{open_p99:.1f} ms"
        figures["click_rps"] = f"{click_rps:.0f} requests/s"
        figures["click_p99_ms"] = f"{click_p99:.1f} ms"
        figures["const_rps"] = f"{const_rps:.0f} requests/s"
        figures["const_p99_ms"] = f"{const_p99:.1f} ms"
        figures["tracking_ratio"] = f"{min(open_rps, click_rps) / const_rps:.2f}"
        figures["aggregator_lag_s"] = f"{max(lags, default=0.0):.2f} s"
    finally:
        web.terminate()
        web.wait(timeout=30)
    backlog = 20_000 if quick else 100_000
    figures["aggregator_events_per_s"] = f"{await drain_rate(redis, backlog, open_lines, click_lines):.0f} events/s"
    await Subscriber.raw("DELETE FROM events WHERE workspace_id = {}", workspace["id"])
    await Workspace.delete().where(Workspace.id == workspace["id"])
    shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="8 s per endpoint instead of 20, smaller backlog")
    options = parser.parse_args()
    if not os.environ.get("DATABASE_URL"):
        from app.embedded import ensure_services

        services = ensure_services(BENCH, 54339, 63809)
        os.environ.update({"DATABASE_URL": services.database_url, "REDIS_URL": services.redis_url})
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    figures: dict[str, str] = {}
    asyncio.run(measure(options.quick, figures))
    for name, value in figures.items():
        print(f"{name}: {value}", flush=True)


if __name__ == "__main__":
    main()
