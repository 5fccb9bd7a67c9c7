"""Automation figures: how fast the engine advances due flow steps, and how soon a welcome email goes out.

    .venv/bin/python benchmarks/automations.py [--quick] [--workers N]

100,000 people (20,000 with --quick) are enrolled in a flow whose first step waits a day and whose second
adds a tag; time is then moved a day forward, so all of them fall due at the same minute, and N engine
workers (2 by default; asyncio tasks in this process, each claiming its own batches of 5,000 with a lease,
as the minute job's runs do on separate workers) advance everyone through both steps.

Figures:
- flow_steps_per_s: step runs written (wait ended, tag added, each with its run row, counters and the move
  to the next step) per second, from the moment the wait ends to the last person completing the flow
- flow_wait_cleared_s: seconds until the last of them had left the wait (the issue's "within a minute")
- trigger_to_send_p99_s, trigger_to_send_p50_s: a welcome flow (subscribed to a list → send a template) is
  active; a new address is subscribed through `POST /api/v1/subscribers` every 200 ms (100 of them, 20 with
  --quick); from each answer to that address's email appearing in Postfix's `smtp-sink` dump (read every
  10 ms). The web server and the workers run as `make run` starts them (`ignite web`, `ignite worker`), and
  the minute job (`advance_flows`) is queued once, as the scheduler does, so a worker runs the engine

Uses DATABASE_URL / REDIS_URL when set, else embedded servers under .data/bench.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.settings import data_dir

BENCH = data_dir() / "bench"
RECIPIENT = re.compile(rb"^To: .*?(probe\d+)@example\.org", re.MULTILINE)
PROBE_SECONDS = 0.2
ENROL_CHUNK = 10_000
BATCH = 5000
NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


async def setup(people: int) -> tuple[dict, dict, list[int]]:
    from app.db.audience import Subscriber
    from app.services.accounts import create_workspace
    from app.services.automations import flows
    from app.services.lists import create_list

    workspace = await create_workspace(f"Automations bench {int(time.time())}")
    mailing_list = await create_list(workspace["id"], {"name": "Benchmark"})
    rows = await Subscriber.raw(
        "INSERT INTO subscribers (workspace_id, list_id, email, email_domain, status, confirmed_at) "
        "SELECT {}, {}, 'user' || g || '@example.com', 'example.com', 'confirmed', now() "
        "FROM generate_series(1, {}) g RETURNING id", workspace["id"], mailing_list["id"], people)
    flow = await flows.create_flow(workspace["id"], {"name": "Benchmark", "steps": [
        {"id": "s1", "kind": "wait", "params": {"mode": "duration", "minutes": 1440}, "next": "s2"},
        {"id": "s2", "kind": "tag", "params": {"add": ["benchmarked"]}, "next": None},
    ]})
    flow = await flows.activate(workspace["id"], flow["id"])
    return workspace, flow, [row["id"] for row in rows]


async def anyone_on(flow_id: int, step_id: str) -> bool:
    from app.services.sqlparams import fetch_positional

    rows = await fetch_positional(
        "SELECT EXISTS (SELECT 1 FROM flow_steps_due WHERE flow_id = $1 AND step_id = $2) AS found", [flow_id, step_id])
    return rows[0]["found"]


async def worker(moment: datetime, flow_id: int, cleared: list[float], started: float) -> int:
    """One engine worker: batches until nothing is due, noting when the wait step had no one left."""
    from app.services.automations import engine

    total = 0
    while ran := await engine.advance_due(moment, batch_size=BATCH):
        total += ran
        if not cleared and not await anyone_on(flow_id, "s1"):
            cleared.append(time.perf_counter() - started)
    return total


async def measure(quick: bool, workers: int, figures: dict[str, str]) -> None:
    from app.db.accounts import Workspace
    from app.db.migrating import migrate
    from app.services.automations import engine
    from app.services.sqlparams import fetch_positional

    await migrate()
    people = 20_000 if quick else 100_000
    workspace, flow, ids = await setup(people)
    try:
        for start in range(0, people, ENROL_CHUNK):
            await engine.enrol(workspace["id"], flow["id"], ids[start:start + ENROL_CHUNK], now=NOW)
        await fetch_positional("ANALYZE flow_steps_due", [])
        moment = NOW + timedelta(days=1)
        cleared: list[float] = []
        started = time.perf_counter()
        claimed = await asyncio.gather(*(worker(moment, flow["id"], cleared, started) for _ in range(workers)))
        elapsed = time.perf_counter() - started
        done = (await fetch_positional(
            "SELECT count(*) AS n FROM flow_enrolments WHERE flow_id = $1 AND status = 'completed'", [flow["id"]]))
        if sum(claimed) != 2 * people or done[0]["n"] != people:
            raise SystemExit(f"{done[0]['n']} of {people} people completed the flow ({sum(claimed)} steps run)")
        figures["flow_steps_per_s"] = f"{2 * people / elapsed:.0f} steps/s"
        figures["flow_wait_cleared_s"] = f"{cleared[0] if cleared else elapsed:.1f} s"
    finally:
        await Workspace.delete().where(Workspace.id == workspace["id"])


async def welcome_setup(sink_port: int) -> tuple[dict, str]:
    """A workspace sending to the sink, with an active welcome flow on its list and a key to subscribe with."""
    from app.services.api_keys import create_key
    from app.services.automations import flows
    from benchmarks.api import setup as sending_setup

    workspace, template, _, _ = await sending_setup(sink_port, 0)
    list_id = (await fetch_list_id(workspace["id"]))
    flow = await flows.create_flow(workspace["id"], {
        "name": "Welcome", "trigger": {"kind": "subscribed", "list_id": list_id},
        "steps": [{"id": "s1", "kind": "send", "next": None, "params": {
            "template_id": template["id"], "subject": "Welcome", "from_name": "Example Shop",
            "from_email": "news@mail.example.com"}}]})
    await flows.activate(workspace["id"], flow["id"])
    _, secret = await create_key(workspace["id"], name="automations benchmark", scopes=("subscribers:write",))
    return {**workspace, "list_id": list_id}, secret


async def fetch_list_id(workspace_id: int) -> int:
    from app.db.audience import MailingList

    return (await MailingList.select(MailingList.id).where(MailingList.workspace_id == workspace_id).first())["id"]


async def welcome_latencies(client, list_id: int, dump: Path, probes: int) -> list[float]:
    """Seconds from each subscribe's answer to its welcome email in the sink."""
    from benchmarks.campaign import DumpWatcher

    watcher = DumpWatcher(dump, RECIPIENT)
    accepted: dict[bytes, float] = {}
    for n in range(probes):
        name = f"probe{n}"
        answer = await client.post("/api/v1/subscribers", json={
            "list_id": list_id, "email": f"{name}@example.org", "status": "confirmed"})
        if answer.status_code != 201:
            raise SystemExit(f"a subscribe was answered {answer.status_code}: {answer.text[:300]}")
        accepted[name.encode()] = time.perf_counter()
        await watcher.watch(PROBE_SECONDS)
    await watcher.wait_for(set(accepted), "welcome emails")
    return [watcher.seen[name] - at for name, at in accepted.items()]


async def measure_latency(quick: bool, figures: dict[str, str]) -> None:
    import httpx

    from app.cli import worker_command, worker_environment
    from app.db.accounts import Workspace
    from app.embedded import free_port
    from app.tasks.automations import advance_flows
    from benchmarks.api import percentile
    from benchmarks.campaign import dump_folder, start_sink, wait_until_workers_listen
    from benchmarks.tracking import start_web

    folder = dump_folder("ignite-automations-bench-")
    dump = folder / "sink.dump"
    sink, sink_port = start_sink(dump)
    workspace, secret = await welcome_setup(sink_port)
    port = free_port()
    web = start_web(port, factory="app.main:create_server")
    workers = None
    try:
        workers = await asyncio.create_subprocess_exec(*worker_command(), start_new_session=True,
                                                       env=worker_environment(), stdout=subprocess.DEVNULL)
        await wait_until_workers_listen(workers.pid)
        advance_flows.send()
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60,
                                     headers={"Authorization": f"Bearer {secret}"}) as client:
            latencies = await welcome_latencies(client, workspace["list_id"], dump, 20 if quick else 100)
        figures["trigger_to_send_p99_s"] = f"{percentile(latencies, 0.99):.2f} s"
        figures["trigger_to_send_p50_s"] = f"{percentile(latencies, 0.5):.2f} s"
    finally:
        if workers is not None:
            workers.terminate()
            await asyncio.wait_for(workers.wait(), 60)
        web.terminate()
        web.wait(timeout=30)
        sink.terminate()
        await Workspace.delete().where(Workspace.id == workspace["id"])
        shutil.rmtree(folder, ignore_errors=True)


async def measure_all(quick: bool, workers: int, figures: dict[str, str]) -> None:
    await measure(quick, workers, figures)
    await measure_latency(quick, figures)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20,000 people instead of 100,000")
    parser.add_argument("--workers", type=int, default=2, help="engine workers advancing at once")
    options = parser.parse_args()
    if not os.environ.get("DATABASE_URL"):
        from app.embedded import ensure_services

        services = ensure_services(BENCH, 54339, 63809)
        os.environ.update({"DATABASE_URL": services.database_url, "REDIS_URL": services.redis_url})
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    figures: dict[str, str] = {}
    asyncio.run(measure_all(options.quick, options.workers, figures))
    for name, value in figures.items():
        print(f"{name}: {value}", flush=True)


if __name__ == "__main__":
    main()
