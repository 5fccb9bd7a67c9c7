"""API figures: accepting transactional messages, a 10,000-recipient batch, and their priority over a campaign.

    .venv/bin/python benchmarks/api.py [--quick]

The web server is started as `make run` starts it (`ignite web`: granian, WEB_WORKERS processes, the app's
factory) on a free loopback port, and the workers as `ignite worker` starts them (with their transactional
share). A workspace has a verified sending domain, a stored 20 KB template with merge tags and 20 links, one
SMTP delivery server pointing at Postfix's `smtp-sink` (which appends every message to a dump file), and a
live API key with the scopes the calls need.

Figures:
- api_accept_rps, api_accept_p99_ms: wrk (2 threads, 32 connections) posting `POST /api/v1/messages` with the
  template, per-recipient merge data and a unique Idempotency-Key per request, every answer a 202; no worker
  runs meanwhile, so the figure is the accepting alone; measured after WARM_UP_SECONDS of the same load, whose
  figures are discarded (each web process opens its connections and plans its statements meanwhile)
- api_batch_10k_s: the median of three `POST /api/v1/messages/batch` calls of 10,000 recipients with their own
  data (1,000 with --quick), request sent to answer read
- api_priority_latency_p99_s: while a campaign of 100,000 recipients (10,000 with --quick) is sending through
  the same server to the same sink, a transactional message is posted every 100 ms; from each 202 to its
  Message-ID appearing in the sink's dump (read every 10 ms), the 99th percentile
- api_priority_latency_p50_s: the median of the same

Uses DATABASE_URL / REDIS_URL when set, else embedded servers under .data/bench. wrk is the Debian package.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.settings import data_dir
from benchmarks.campaign import (
    DumpWatcher,
    dump_folder,
    start_sink,
    template_html,
    wait_until_workers_listen,
)
from benchmarks.tracking import ensure_wrk, start_web

BENCH = data_dir() / "bench"
CONNECTIONS = 32
WARM_UP_SECONDS = 3
THREADS = 2
SCOPES = ("messages:send", "messages:read", "campaigns:manage")
MESSAGE_ID = re.compile(rb"^Message-ID: <(\d+)@", re.MULTILINE)
WRK_SCRIPT = """
local counter = 0
local thread_id = 0
local threads = {}
setup = function(thread)
    thread:set("id", #threads + 1)
    table.insert(threads, thread)
end
init = function(args)
    thread_id = id
end
request = function()
    counter = counter + 1
    local n = thread_id * 100000000 + counter
    local body = string.format(
        '{"to": "buyer%d@example%d.com", "from": "shop@mail.example.com", "template_id": TEMPLATE_ID, '
        .. '"data": {"first_name": "Name%d", "city": "Oslo", "plan": "gold", "order": "A-%d"}, '
        .. '"tags": ["receipt"]}', n, n % 97, n, n)
    return wrk.format("POST", "/api/v1/messages", {
        ["Authorization"] = "Bearer SECRET",
        ["Content-Type"] = "application/json",
        ["Idempotency-Key"] = "RUN-" .. n,
    }, body)
end
done = function(summary, latency, requests)
    local errors = summary.errors
    io.write(string.format("RESULT %d %d %d %d\\n", summary.requests, summary.duration,
        latency:percentile(99), errors.status + errors.connect + errors.read + errors.write + errors.timeout))
end
"""


async def setup(sink_port: int, recipients: int) -> tuple[dict, dict, dict, str]:
    """A workspace ready to send: domain, server at the sink, template, a list and campaign, and a live key."""
    from app.db.audience import Subscriber
    from app.db.content import SendingDomain
    from app.services import campaigns
    from app.services.accounts import create_workspace, now
    from app.services.api_keys import MAX_RATE_LIMIT, create_key
    from app.services.delivery_servers import create_server
    from app.services.lists import create_list
    from app.services.sending_domains import add_domain
    from app.services.templates import create_template

    workspace = await create_workspace(f"API bench {int(time.time())}")
    mailing_list = await create_list(workspace["id"], {"name": "Benchmark", "company_address": "1 Market Street"})
    await Subscriber.raw(
        "INSERT INTO subscribers (workspace_id, list_id, email, email_domain, status, fields, confirmed_at) "
        "SELECT {}, {}, 'user' || g || '@example' || (g % 97) || '.com', 'example' || (g % 97) || '.com', "
        "'confirmed', jsonb_build_object('first_name', 'Name' || g, 'city', 'Paris'), now() "
        "FROM generate_series(1, {}) g", workspace["id"], mailing_list["id"], recipients)
    # As an import of that size leaves the table (app/services/imports/runner.py): with the statistics from before
    # the load, the planner took the workspace for empty and read its 100,000 subscribers per message.
    await Subscriber.raw("ANALYZE subscribers")
    domain = await add_domain(workspace["id"], "mail.example.com")
    await SendingDomain.update({
        SendingDomain.checked_at: now(), SendingDomain.dkim_private_key: "",
        SendingDomain.dns_status: {"DKIM": True, "SPF": True, "DMARC": True, "Return-Path": True},
    }).where(SendingDomain.id == domain["id"])
    await create_server(workspace["id"], "smtp", {
        "name": "smtp-sink", "setting_host": "127.0.0.1", "setting_port": str(sink_port),
        "setting_security": "none", "setting_pool_size": "8", "weight": "100"})
    template = await create_template(workspace["id"], {
        "name": "Receipt", "subject": "Your order {{ order }}, {{ first_name }}", "html": template_html()}, None)
    campaign = await campaigns.create_draft(workspace["id"], {
        "name": "Benchmark", "from_email": "news@mail.example.com", "from_name": "Example Shop",
        "template_id": str(template["id"]), "list_ids": [str(mailing_list["id"])]})
    # The key's own rate limit is set out of the way: the figure is what the server accepts, not the bucket.
    _, secret = await create_key(workspace["id"], name="benchmark", scopes=SCOPES, rate_limit=MAX_RATE_LIMIT)
    return workspace, template, campaign, secret


async def accept_figures(wrk: str, port: int, template_id: int, secret: str, seconds: int) -> tuple[float, float]:
    """(requests/s, p99 ms) of wrk posting single messages; fails when any answer was not a 202."""
    script = WRK_SCRIPT.replace("TEMPLATE_ID", str(template_id)).replace("SECRET", secret).replace(
        "RUN-", f"run-{time.time_ns()}-")
    descriptor, name = tempfile.mkstemp(suffix=".lua")
    with os.fdopen(descriptor, "w") as file:
        file.write(script)
    process = await asyncio.create_subprocess_exec(
        wrk, "-t", str(THREADS), "-c", str(CONNECTIONS), "-d", f"{seconds}s", "-s", name,
        f"http://127.0.0.1:{port}/api/v1/messages", stdout=asyncio.subprocess.PIPE)
    output = (await process.communicate())[0].decode()
    os.unlink(name)
    found = re.search(r"^RESULT (\d+) (\d+) (\d+) (\d+)$", output, re.MULTILINE)
    if not found:
        raise SystemExit(f"wrk printed no result:\n{output}")
    requests, duration_us, p99_us, errors = (int(value) for value in found.groups())
    if errors:
        raise SystemExit(f"{errors} of {requests} posts were not accepted:\n{output}")
    return requests / (duration_us / 1_000_000), p99_us / 1000


async def batch_seconds(client, template_id: int, size: int) -> float:
    recipients = [{"to": f"batch{n}-{time.time_ns()}@example{n % 97}.com",
                   "data": {"first_name": f"Name{n}", "order": f"B-{n}"}} for n in range(size)]
    body = json.dumps({"from": "shop@mail.example.com", "template_id": template_id, "recipients": recipients})
    started = time.perf_counter()
    answer = await client.post("/api/v1/messages/batch", content=body,
                               headers={"Content-Type": "application/json", "Idempotency-Key": str(time.time_ns())})
    elapsed = time.perf_counter() - started
    if answer.status_code != 202:
        raise SystemExit(f"the batch was answered {answer.status_code}: {answer.text[:500]}")
    refused = [row for row in answer.json()["results"] if "error" in row]
    if refused:
        raise SystemExit(f"{len(refused)} recipients of the batch were refused: {refused[:3]}")
    return elapsed


async def priority_latencies(client, campaign: dict, workspace: dict, template_id: int, dump: Path,
                             probes: int) -> list[float]:
    """Seconds from each probe's 202 to its message in the sink, while the campaign sends."""
    from app.redis_client import get_redis
    from app.services import campaigns
    from app.services.audit import SYSTEM
    from app.tasks.sending import QUEUE

    await campaigns.launch(get_redis(), QUEUE, workspace["id"], campaign["id"], SYSTEM)
    watcher = DumpWatcher(dump, MESSAGE_ID)
    # The probes start once the campaign's traffic is flowing through the sink.
    while len(watcher.seen) < 200:
        await asyncio.sleep(0.01)
        watcher.poll()
    accepted: dict[bytes, float] = {}
    for n in range(probes):
        answer = await client.post("/api/v1/messages", json={
            "to": f"probe{n}@example.org", "from": "shop@mail.example.com", "template_id": template_id,
            "data": {"first_name": "Probe", "order": f"P-{n}"}})
        if answer.status_code != 202:
            raise SystemExit(f"a probe was answered {answer.status_code}: {answer.text[:300]}")
        accepted[str(answer.json()["id"]).encode()] = time.perf_counter()
        await watcher.watch(0.1)
    await watcher.wait_for(set(accepted), "probes")
    return [watcher.seen[message] - at for message, at in accepted.items()]


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def measure(quick: bool, figures: dict[str, str]) -> None:
    import httpx

    from app.cli import transactional_worker_command, worker_command, worker_environment
    from app.db.accounts import Workspace
    from app.db.migrating import migrate
    from app.embedded import free_port

    await migrate()
    wrk = ensure_wrk()
    folder = dump_folder("ignite-api-bench-")
    dump = folder / "sink.dump"
    sink, sink_port = start_sink(dump)
    workspace, template, campaign, secret = await setup(sink_port, 10_000 if quick else 100_000)
    port = free_port()
    web = start_web(port, factory="app.main:create_server")
    workers: list = []
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=120,
                                     headers={"Authorization": f"Bearer {secret}"}) as client:
            # Discarded: each web process opens its pool's connections and plans its statements on them.
            await accept_figures(wrk, port, template["id"], secret, WARM_UP_SECONDS)
            rps, p99 = await accept_figures(wrk, port, template["id"], secret, 8 if quick else 20)
            figures["api_accept_rps"] = f"{rps:.0f} requests/s"
            figures["api_accept_p99_ms"] = f"{p99:.1f} ms"
            size = 1000 if quick else 10_000
            runs = [await batch_seconds(client, template["id"], size) for _ in range(3)]
            figures["api_batch_10k_s"] = f"{statistics.median(runs):.2f} s"
            # What the accept and batch runs queued is dropped: the latency is measured behind the campaign alone.
            from app.db.campaigns import Delivery

            await Delivery.raw("UPDATE deliveries SET status = 'cancelled' WHERE workspace_id = {} "
                               "AND transactional AND status IN ('queued', 'deferred')", workspace["id"])
            from app.tasks.broker import broker
            from app.tasks.transactional import QUEUE_NAME

            # Their queue entries too: the probes would otherwise wait behind thousands of emptied ranges.
            broker.flush(QUEUE_NAME)
            # The workers as `ignite worker` starts them: the general processes and the transactional share.
            workers = [await asyncio.create_subprocess_exec(*command, start_new_session=True,
                                                            env=worker_environment(), stdout=subprocess.DEVNULL)
                       for command in (worker_command(), transactional_worker_command())]
            await wait_until_workers_listen(workers[0].pid)
            await wait_until_workers_listen(workers[1].pid, expected=1)
            latencies = await priority_latencies(client, campaign, workspace, template["id"], dump,
                                                 50 if quick else 200)
            figures["api_priority_latency_p99_s"] = f"{percentile(latencies, 0.99):.2f} s"
            figures["api_priority_latency_p50_s"] = f"{percentile(latencies, 0.5):.2f} s"
    finally:
        for worker in workers:
            worker.terminate()
            await asyncio.wait_for(worker.wait(), 60)
        web.terminate()
        web.wait(timeout=30)
        sink.terminate()
        await Workspace.delete().where(Workspace.id == workspace["id"])
        shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="8 s of posts, smaller batch and campaign")
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
