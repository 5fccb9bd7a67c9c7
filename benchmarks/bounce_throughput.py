"""Bounce reports parsed, classified, matched and acted on per second, through the queue, with real workers.

Stores N DSNs (hard, soft and block bounces about N sent deliveries of one campaign) with `intake.accept`,
starts the worker processes (`ignite worker`'s command), queues `process_reports` in chunks as the
collectors do, and times until every report is processed:

    .venv/bin/python benchmarks/bounce_throughput.py [--quick] [--reports N]

`throughput(reports)` is what benchmarks/bounces.py calls for its `bounces_per_s` line.
Uses DATABASE_URL / REDIS_URL when set, else embedded servers under .data/bench.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import time

from app.settings import data_dir

BENCH = data_dir() / "bench"
# As a mailbox poll hands them over: one task per few dozen messages.
CHUNK = 50
SHAPES = (("5.1.1", "550 5.1.1 <{r}>: Recipient address rejected: User unknown", "failed"),
          ("4.2.2", "452 4.2.2 <{r}>: Mailbox full", "delayed"),
          ("5.7.1", "550 5.7.1 Message rejected as spam by Content Filtering", "failed"))


def report_for(recipient: str, index: int) -> bytes:
    status, diagnostic, action = SHAPES[index % len(SHAPES)]
    return (f"From: MAILER-DAEMON@mx.example.net\r\nTo: bounces@news.example.com\r\n"
            f"Subject: Undelivered Mail Returned to Sender\r\nMIME-Version: 1.0\r\n"
            f'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n\r\n'
            f"--B\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n\r\n"
            f"--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.net\r\n\r\n"
            f"Final-Recipient: rfc822; {recipient}\r\nAction: {action}\r\nStatus: {status}\r\n"
            f"Diagnostic-Code: smtp; {diagnostic.format(r=recipient)}\r\n\r\n--B--\r\n").encode()


async def _setup(reports: int) -> tuple[int, list[int]]:
    """A workspace with a campaign sent to `reports` subscribers, and one stored report about each."""
    from app.services.bounces.intake import Incoming, accept
    from app.services.sqlparams import fetch_positional

    [workspace] = await fetch_positional(
        "INSERT INTO workspaces (name, slug) VALUES ('Bounce bench', 'bounce-bench-' || md5(random()::text)) "
        "RETURNING id", [])
    workspace_id = workspace["id"]
    [mailing_list] = await fetch_positional(
        "INSERT INTO lists (workspace_id, name) VALUES ($1, 'Bench') RETURNING id", [workspace_id])
    await fetch_positional(
        "INSERT INTO subscribers (workspace_id, list_id, email, email_domain) "
        "SELECT $1, $2, 'r' || n || '@example.org', 'example.org' FROM generate_series(1, $3) n",
        [workspace_id, mailing_list["id"], reports])
    [campaign] = await fetch_positional(
        "INSERT INTO campaigns (workspace_id, name) VALUES ($1, 'Bench') RETURNING id", [workspace_id])
    await fetch_positional(
        "INSERT INTO deliveries (workspace_id, campaign_id, subscriber_id, email, domain, status, server_id, "
        "domain_group, sent_at) SELECT $1, $2, s.id, s.email, s.email_domain, 'sent', 1, 'Others', now() "
        "FROM subscribers s WHERE s.list_id = $3", [workspace_id, campaign["id"], mailing_list["id"]])
    ids = []
    for n in range(1, reports + 1):
        report_id = await accept(Incoming("imap", f"bench:{workspace_id}:{n}", raw=report_for(f"r{n}@example.org", n),
                                          workspace_id=workspace_id))
        ids.append(report_id)
    return workspace_id, ids


async def _unprocessed(workspace_id: int) -> int:
    from app.services.sqlparams import fetch_positional

    rows = await fetch_positional(
        "SELECT count(*) AS n FROM bounce_reports WHERE workspace_id = $1 AND processed_at IS NULL", [workspace_id])
    return int(rows[0]["n"])


async def _workers_listening(seconds: float = 60) -> None:
    """A worker process has sent its heartbeat (see WorkerHeartbeat), so the workers are consuming."""
    from app.redis_client import get_redis
    from app.services.health import HEARTBEAT_PREFIX

    deadline = time.monotonic() + seconds
    while not [key async for key in get_redis().scan_iter(f"{HEARTBEAT_PREFIX}*")]:
        if time.monotonic() > deadline:
            raise SystemExit("the workers did not start within a minute")
        await asyncio.sleep(0.1)


async def bounces_per_s(reports: int) -> float:
    """Reports processed per second by the worker processes, from the first task queued to the last commit."""
    from app.cli import worker_command, worker_environment
    from app.db.migrating import migrate
    from app.services.sqlparams import fetch_positional
    from app.tasks.bounces import process_reports

    await migrate()
    workspace_id, ids = await _setup(reports)
    worker = await asyncio.create_subprocess_exec(*worker_command(), start_new_session=True,
                                                  stdout=subprocess.DEVNULL, env=worker_environment())
    try:
        await _workers_listening()
        started = time.perf_counter()
        for first in range(0, len(ids), CHUNK):
            process_reports.send(ids[first:first + CHUNK])
        while await _unprocessed(workspace_id):
            if time.perf_counter() - started > 600:
                raise SystemExit("the reports were not processed within ten minutes")
            await asyncio.sleep(0.05)
        return reports / (time.perf_counter() - started)
    finally:
        worker.terminate()
        await asyncio.wait_for(worker.wait(), 60)
        await fetch_positional("DELETE FROM workspaces WHERE id = $1", [workspace_id])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1,000 reports instead of 5,000")
    parser.add_argument("--reports", type=int, default=None)
    options = parser.parse_args()
    rate = throughput(options.reports or (1000 if options.quick else 5000))
    print(f"bounces_per_s: {rate:.0f} reports/s", flush=True)


def throughput(reports: int) -> float:
    """`bounces_per_s` on the embedded servers under .data/bench unless DATABASE_URL is set."""
    if not os.environ.get("DATABASE_URL"):
        from app.embedded import ensure_services

        ensure_services(BENCH, 54339, 63809)
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    return asyncio.run(bounces_per_s(reports))


if __name__ == "__main__":
    main()
