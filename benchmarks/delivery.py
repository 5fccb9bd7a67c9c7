"""Delivery figures: token-bucket throughput on Redis, and the SMTP adapter next to Postfix's smtp-source.

    .venv/bin/python benchmarks/delivery.py [--quick]

bucket_acquire_per_s: 8 worker processes, each with a few calls in flight.
An acquisition is one message's take: one token from five buckets at once
(server per second/hour/day, server and domain group per hour, workspace per
minute), all or none. Workers ask as a send actor does, for a batch of
50 messages (BATCH) per round trip (`acquire_many`); a single `acquire()` per
message costs one round trip each and is bound by the Redis client's own CPU
cost instead. Uses REDIS_URL when set, else starts (or reuses) an embedded
Redis under .data/bench.

smtp_adapter_msgs_per_s / smtp_source_msgs_per_s: the pooled SMTP adapter and
`smtp-source` (8 sessions, connections kept open with -d, 2,000-byte bodies)
each blast the same `smtp-sink` started on a free port in this run.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from redis.asyncio import Redis

from app.embedded import free_port, port_is_open, start_redis
from app.esp.base import OutgoingMessage
from app.esp.smtp import Security, SmtpConfig, SmtpESP
from app.services.throttling import DAY, HOUR, MINUTE, SECOND, Bucket, acquire_many
from app.settings import data_dir

BENCH = data_dir() / "bench"
BENCH_REDIS_PORT = 63809
WORKERS = 8
IN_FLIGHT = 4
BATCH = 50
SESSIONS = 8
BODY_BYTES = 2000
SMTP_SINK = "/usr/sbin/smtp-sink"
SMTP_SOURCE = "/usr/sbin/smtp-source"
# Limits far above what the run can take, so every acquisition runs the whole script and is granted.
HUGE = 10**12


def _buckets(worker: int, n: int) -> list[Bucket]:
    server, group = n % 4, ("gmail", "yahoo", "microsoft", "apple", "others")[n % 5]
    return [
        Bucket(f"bench:server:{server}:second", HUGE, SECOND),
        Bucket(f"bench:server:{server}:hour", HUGE, HOUR),
        Bucket(f"bench:server:{server}:day", HUGE, DAY),
        Bucket(f"bench:server:{server}:group:{group}:hour", HUGE, HOUR),
        Bucket(f"bench:workspace:{worker % 3}:minute", HUGE, MINUTE),
    ]


def _acquire_worker(url: str, worker: int, start_at: float, seconds: float, counts: multiprocessing.Queue) -> None:
    batch = [(_buckets(worker, n), 1) for n in range(BATCH)]

    async def lane(client: Redis, deadline: float) -> int:
        done = 0
        while time.time() < deadline:
            done += sum(grant.granted for grant in await acquire_many(client, batch))
        return done

    async def run() -> int:
        client = Redis.from_url(url)
        try:
            await acquire_many(client, batch)  # connect and load the script before the clock starts
            await asyncio.sleep(max(0.0, start_at - time.time()))
            lanes = await asyncio.gather(*(lane(client, start_at + seconds) for _ in range(IN_FLIGHT)))
            return sum(lanes)
        finally:
            await client.aclose()

    counts.put(asyncio.run(run()))


def bucket_acquire_per_s(url: str, seconds: float) -> float:
    context = multiprocessing.get_context("fork")
    counts: multiprocessing.Queue = context.Queue()
    start_at = time.time() + 1.0  # every process connected and waiting before the measured interval
    processes = [context.Process(target=_acquire_worker, args=(url, w, start_at, seconds, counts))
                 for w in range(WORKERS)]
    for process in processes:
        process.start()
    total = sum(counts.get(timeout=seconds + 60) for _ in processes)
    for process in processes:
        process.join()
    return total / seconds


def start_sink() -> tuple[subprocess.Popen[bytes], int]:
    if not (Path(SMTP_SINK).exists() and Path(SMTP_SOURCE).exists()):
        raise SystemExit(f"{SMTP_SINK} and {SMTP_SOURCE} are needed: apt-get install -y postfix")
    port = free_port()
    user = ["-u", "nobody"] if os.geteuid() == 0 else []  # smtp-sink will not keep root privileges
    sink = subprocess.Popen([SMTP_SINK, *user, f"127.0.0.1:{port}", "256"], stderr=subprocess.PIPE)
    deadline = time.monotonic() + 10
    while not port_is_open(port):
        if sink.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"smtp-sink did not start: {sink.stderr.read().decode() if sink.stderr else ''}")
        time.sleep(0.02)
    return sink, port


def smtp_adapter_msgs_per_s(port: int, count: int) -> float:
    body = b"x" * 76 + b"\r\n"
    raw = (b"From: bench@example.com\r\nTo: sink@example.net\r\nSubject: benchmark\r\n\r\n"
           + body * (BODY_BYTES // len(body)))
    messages = [OutgoingMessage(1, "bench@example.com", (f"r{n}@example.net",), raw, message_id=str(n), job="bench")
                for n in range(count)]

    async def run() -> float:
        async with SmtpESP(SmtpConfig("127.0.0.1", port, Security.NONE, pool_size=SESSIONS,
                                      messages_per_connection=count)) as esp:
            await esp.send(messages[:SESSIONS])  # open the pool's connections before timing
            started = time.perf_counter()
            results = await esp.send(messages)
            elapsed = time.perf_counter() - started
        refused = [r for r in results if not r.accepted]
        if refused:
            raise SystemExit(f"{len(refused)} messages refused, first: {refused[0].response}")
        return count / elapsed

    return asyncio.run(run())


def smtp_source_msgs_per_s(port: int, count: int) -> float:
    command = [SMTP_SOURCE, "-d", "-s", str(SESSIONS), "-m", str(count), "-l", str(BODY_BYTES),
               f"127.0.0.1:{port}"]
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return count / (time.perf_counter() - started)


def redis_url() -> str:
    """REDIS_URL when set, else the embedded Redis the benchmarks share under .data/bench, left running
    for the next run (and the other benchmarks) to reuse."""
    if url := os.environ.get("REDIS_URL"):
        return url
    start_redis(BENCH / "redis", BENCH_REDIS_PORT)
    return f"redis://127.0.0.1:{BENCH_REDIS_PORT}/0"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a small run, well under a minute")
    quick = parser.parse_args().quick
    seconds, messages = (2.0, 5_000) if quick else (10.0, 50_000)

    print(f"bucket_acquire_per_s: {bucket_acquire_per_s(redis_url(), seconds):.0f} acq/s", flush=True)

    sink, port = start_sink()
    try:
        adapter = smtp_adapter_msgs_per_s(port, messages)
        source = smtp_source_msgs_per_s(port, messages)
    finally:
        sink.terminate()
        sink.wait(timeout=10)
    print(f"smtp_adapter_msgs_per_s: {adapter:.0f} msgs/s")
    print(f"smtp_source_msgs_per_s: {source:.0f} msgs/s")
    print(f"smtp_adapter_ratio: {adapter / source:.2f}")


if __name__ == "__main__":
    main()
