"""A campaign end to end: launch to the last message, through real workers and the SMTP adapter to Postfix's smtp-sink.

    .venv/bin/python benchmarks/campaign.py [--quick] [--recipients N] [--no-dkim]

A list of N personalised subscribers (100,000; 10,000 with --quick), a 20 KB
template with 20 links, merge tags and spintax, one SMTP delivery server (8
pooled connections) pointing at an `smtp-sink` started on a free port that
appends every message to a dump file, and the workers `make run` starts
(`ignite worker`: WORKER_PROCESSES x WORKER_THREADS). The clock starts at
launch. Message-IDs read back from the dump give the duplicates and the
missing. `smtp-source` then sends as many 20 KB messages over 20 sessions to
a sink that dumps the same way, as the reference.

Figures:
- campaign_msgs_per_s: recipients / (launch until the campaign is marked sent)
- first_message_s: launch until the sink has the first message
- first_batch_queued_1m_s, materialise_rows_per_s: for 1,000,000 recipients (200,000 with --quick), launch until
  the first batch is queued, and deliveries written per second by the chunked INSERT ... SELECT, measured on the
  materialisation alone (no workers)
- send_worker_rss_mb: peak resident memory of the largest worker process
- send_worker_cpu_ms_per_msg, sink_cpu_ms_per_msg: CPU time (user and system) of all the send worker processes,
  and of the sink, from launch to the end, per message: where the machine's cores went;
  smtp_source_sink_cpu_ms_per_msg: the same sink's CPU per message when smtp-source sends
- duplicate_messages, missing_messages: from the sink's Message-IDs
- smtp_source_msgs_per_s, campaign_ratio
- dkim_msgs_per_s_per_core: one of the campaign's 20 KB messages signed over and over for 3 s in this process
  (canonicalisation, body hash and RSA-2048 signature), next to openssl_rsa2048_sign_per_s from
  `openssl speed -seconds 3 rsa2048` (one core) in the same run

Uses DATABASE_URL / REDIS_URL when set, else embedded servers under .data/bench.
Every message is DKIM-signed unless --no-dkim.
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
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.settings import data_dir

BENCH = data_dir() / "bench"
SMTP_SINK = "/usr/sbin/smtp-sink"
SMTP_SOURCE = "/usr/sbin/smtp-source"
BODY_BYTES = 20 * 1024
SOURCE_SESSIONS = 20
POOL_SIZE = 8
# The scheduler reaps every minute; the benchmark a little more often, and never in the way of the workers.
REAP_EVERY_SECONDS = 15
MESSAGE_ID = re.compile(rb"^Message-ID: <(\d+)@", re.MULTILINE)
PARAGRAPH = ("Our spring collection is here, with pieces picked for long evenings and early mornings alike. "
             "Every order ships within two working days, and returns stay free for thirty days after delivery. ")


def template_html() -> str:
    """About 20 KB: 20 cards with a link each, merge tags, spintax, and the unsubscribe link."""
    cards = []
    for number in range(20):
        greeting = "{Hi|Hello|Hey} {{ first_name | default('there') }}, a" if number == 0 else "A"
        cards.append(f"<h2>{greeting} pick {number + 1} for {{{{ city | default('you') }}}}</h2>"
                     f"<p>{PARAGRAPH * 3}</p><p><a href=\"https://shop.example.com/p/{number}?ref=mail\">"
                     f"See pick {number + 1}</a></p>")
    body = "".join(cards)
    while len(body) < BODY_BYTES - 600:
        body += f"<p>{PARAGRAPH}</p>"
    return (f"<html><body>{body}<p>Sent to {{{{ email }}}}, a {{{{ plan | default('free') }}}} member. "
            "{{ physical_address }}</p><p><a href=\"{{ unsubscribe_url }}\">Unsubscribe</a></p></body></html>")


def start_sink(dump: Path) -> tuple[subprocess.Popen[bytes], int]:
    from app.embedded import free_port, port_is_open

    port = free_port()
    user = ["-u", "nobody"] if os.geteuid() == 0 else []  # smtp-sink will not keep root privileges
    sink = subprocess.Popen([SMTP_SINK, *user, "-D", str(dump), f"127.0.0.1:{port}", "1024"],
                            stderr=subprocess.PIPE)
    deadline = time.monotonic() + 10
    while not port_is_open(port):
        if sink.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"smtp-sink did not start: {sink.stderr.read().decode() if sink.stderr else ''}")
        time.sleep(0.02)
    return sink, port


def dumped_ids(dump: Path) -> list[int]:
    """Every Message-ID in the sink's dump, in the order received, read in pieces."""
    found: list[int] = []
    tail = b""
    with dump.open("rb") as source:
        while chunk := source.read(16 * 1024 * 1024):
            data = tail + chunk
            cut = data.rfind(b"\n")
            found += [int(m) for m in MESSAGE_ID.findall(data, 0, cut + 1)]
            tail = data[cut + 1:]
    found += [int(m) for m in MESSAGE_ID.findall(tail)]
    return found


class DumpWatcher:
    """Reads a sink's dump as it grows and notes when each match of `pattern` (its first group) first appears."""

    def __init__(self, dump: Path, pattern: re.Pattern[bytes]) -> None:
        self.dump, self.pattern, self.offset, self.tail = dump, pattern, 0, b""
        self.seen: dict[bytes, float] = {}

    def poll(self) -> None:
        if not self.dump.exists():
            return
        with self.dump.open("rb") as source:
            source.seek(self.offset)
            chunk = source.read()
        self.offset += len(chunk)
        data = self.tail + chunk
        cut = data.rfind(b"\n")
        at = time.perf_counter()
        for found in self.pattern.findall(data, 0, cut + 1):
            self.seen.setdefault(found, at)
        self.tail = data[cut + 1:]

    async def watch(self, seconds: float) -> None:
        """Reads the dump every 10 ms for `seconds`."""
        deadline = time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            self.poll()
            await asyncio.sleep(0.01)

    async def wait_for(self, wanted: set[bytes], what: str, seconds: float = 120) -> None:
        """Until every one of `wanted` has appeared; SystemExit naming how many of `what` never did."""
        deadline = time.perf_counter() + seconds
        while wanted - set(self.seen):
            if time.perf_counter() > deadline:
                raise SystemExit(f"{len(wanted - set(self.seen))} {what} never reached the sink")
            self.poll()
            await asyncio.sleep(0.01)


def peak_rss_mb(main_pid: int) -> float:
    """The largest VmHWM (peak resident set) among the worker's child processes."""
    peaks = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            text = status.read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
        if int(fields.get("PPid", "0").strip()) == main_pid and "VmHWM" in fields:
            peaks.append(int(fields["VmHWM"].split()[0]) / 1024)
    return max(peaks, default=0.0)


async def setup(recipients: int, port: int, dkim: bool) -> tuple[dict, dict]:
    from app.db.audience import Subscriber
    from app.db.content import SendingDomain
    from app.services import campaigns
    from app.services.accounts import create_workspace, now
    from app.services.delivery_servers import create_server
    from app.services.lists import create_list
    from app.services.sending_domains import add_domain
    from app.services.templates import create_template

    workspace = await create_workspace(f"Campaign bench {int(time.time())}")
    mailing_list = await create_list(workspace["id"], {"name": "Benchmark", "company_address": "1 Market Street"})
    await Subscriber.raw(
        "INSERT INTO subscribers (workspace_id, list_id, email, email_domain, status, fields, confirmed_at) "
        "SELECT {}, {}, 'user' || g || '@example' || (g % 97) || '.com', 'example' || (g % 97) || '.com', "
        "'confirmed', jsonb_build_object('first_name', 'Name' || g, 'city', (ARRAY['Paris','Lima','Oslo'])[g % 3 + 1], "
        "'plan', CASE WHEN g % 2 = 0 THEN 'gold' END), now() FROM generate_series(1, {}) g",
        workspace["id"], mailing_list["id"], recipients)
    domain = await add_domain(workspace["id"], "mail.example.com")
    # Campaigns come only from verified domains: this one's DNS check is taken as passed.
    verified: dict = {SendingDomain.checked_at: now(),
                      SendingDomain.dns_status: {"DKIM": True, "SPF": True, "DMARC": True, "Return-Path": True}}
    if not dkim:
        verified[SendingDomain.dkim_private_key] = ""
    await SendingDomain.update(verified).where(SendingDomain.id == domain["id"])
    await create_server(workspace["id"], "smtp", {
        "name": "smtp-sink", "setting_host": "127.0.0.1", "setting_port": str(port), "setting_security": "none",
        "setting_pool_size": str(POOL_SIZE), "weight": "100"})
    template = await create_template(workspace["id"], {
        "name": "Spring picks", "subject": "{Hi|Hello} {{ first_name }}, spring picks", "html": template_html()}, None)
    campaign = await campaigns.create_draft(workspace["id"], {
        "name": "Benchmark", "from_email": "news@mail.example.com", "from_name": "Example Shop",
        "template_id": str(template["id"]), "list_ids": [str(mailing_list["id"])]})
    return workspace, campaign


def dump_folder(prefix: str) -> Path:
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    folder.chmod(0o777)  # smtp-sink writes its dump as `nobody`
    return folder


def wait_for_content(path: Path, seconds: float) -> None:
    """Block until the sink has written something to `path` (polled every 5 ms)."""
    deadline = time.monotonic() + seconds
    while not (path.exists() and path.stat().st_size > 0):
        if time.monotonic() > deadline:
            raise SystemExit(f"no message reached the sink within {seconds:.0f} s")
        time.sleep(0.005)


async def run_campaign(recipients: int, dkim: bool, dump: Path, port: int, sink_pid: int,
                       figures: dict[str, str]) -> None:
    from app.cli import worker_command
    from app.db.accounts import Workspace
    from app.db.campaigns import Delivery
    from app.db.migrating import migrate
    from app.redis_client import get_redis
    from app.services import campaigns
    from app.services.audit import SYSTEM
    from app.tasks.sending import QUEUE

    await migrate()
    workspace, campaign = await setup(recipients, port, dkim)
    worker = await asyncio.create_subprocess_exec(*worker_command(), start_new_session=True,
                                                  stdout=subprocess.DEVNULL)
    try:
        await wait_until_workers_listen(worker.pid)
        workers = await asyncio.to_thread(child_pids, worker.pid)
        cpu_before = {"workers": cpu_seconds(workers), "sink": cpu_seconds({sink_pid})}
        started = time.perf_counter()
        await campaigns.launch(get_redis(), QUEUE, workspace["id"], campaign["id"], SYSTEM)
        await asyncio.to_thread(wait_for_content, dump, 60)
        figures["first_message_s"] = f"{time.perf_counter() - started:.2f} s"
        status, reaped = "", time.perf_counter()
        while status != "sent":
            await asyncio.sleep(0.2)
            if time.perf_counter() - started > 3600:
                raise SystemExit("the campaign did not finish within an hour")
            if time.perf_counter() - reaped > REAP_EVERY_SECONDS:
                await campaigns.reap(get_redis(), QUEUE)
                reaped = time.perf_counter()
            status = (await campaigns.get_campaign(workspace["id"], campaign["id"]))["status"]
        elapsed = time.perf_counter() - started
        figures["campaign_msgs_per_s"] = f"{recipients / elapsed:.0f} msgs/s"
        # Where the two cores went, per message: the send workers (render, sign, SMTP, bookkeeping) and the sink.
        worker_ms = (cpu_seconds(workers) - cpu_before["workers"]) * 1000 / recipients
        figures["send_worker_cpu_ms_per_msg"] = f"{worker_ms:.2f} ms"
        figures["sink_cpu_ms_per_msg"] = f"{(cpu_seconds({sink_pid}) - cpu_before['sink']) * 1000 / recipients:.2f} ms"
        figures["send_worker_rss_mb"] = f"{await asyncio.to_thread(peak_rss_mb, worker.pid):.0f} MB"
        expected = {r["id"] for r in await Delivery.select(Delivery.id).where(Delivery.campaign_id == campaign["id"])}
        received = await asyncio.to_thread(dumped_ids, dump)
        figures["duplicate_messages"] = f"{len(received) - len(set(received))} messages"
        figures["missing_messages"] = f"{len(expected - set(received))} messages"
    finally:
        worker.terminate()
        await asyncio.wait_for(worker.wait(), 60)
        await Workspace.delete().where(Workspace.id == workspace["id"])


class FirstBatchClock:
    """A SendQueue that only notes when the first batch was queued: materialisation measured on its own."""

    def __init__(self) -> None:
        self.first_batch_at: float | None = None

    def send_batch(self, workspace_id: int, campaign_id: int, first_id: int, last_id: int,
                   delay_seconds: float = 0.0) -> None:
        if self.first_batch_at is None:
            self.first_batch_at = time.perf_counter()

    def materialise(self, workspace_id: int, campaign_id: int) -> None:
        """The benchmark runs the materialiser itself."""


async def materialise_figures(rows: int, figures: dict[str, str]) -> None:
    """Launch to the first queued batch, and deliveries written per second, for `rows` recipients."""
    import asyncpg

    from app.db.accounts import Workspace
    from app.redis_client import get_redis
    from app.services import campaigns
    from app.services.audit import SYSTEM

    workspace, campaign = await setup(rows, 25, dkim=False)
    connection = await asyncpg.connect(os.environ["DATABASE_URL"])
    try:
        await connection.execute("ANALYZE subscribers")
    finally:
        await connection.close()
    clock = FirstBatchClock()
    try:
        started = time.perf_counter()
        await campaigns.launch(get_redis(), clock, workspace["id"], campaign["id"], SYSTEM)
        await campaigns.materialise(get_redis(), clock, workspace["id"], campaign["id"])
        elapsed = time.perf_counter() - started
        if clock.first_batch_at is None:
            raise SystemExit("no batch was queued")
        size = "1m" if rows == 1_000_000 else f"{rows // 1000}k"
        figures[f"first_batch_queued_{size}_s"] = f"{clock.first_batch_at - started:.2f} s"
        figures["materialise_rows_per_s"] = f"{rows / elapsed:.0f} rows/s"
    finally:
        await Workspace.delete().where(Workspace.id == workspace["id"])


def cpu_seconds(pids: set[int]) -> float:
    """User plus system CPU time the processes have used so far."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / ticks


def child_pids(parent: int) -> set[int]:
    children = set()
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            ppid = next(line for line in status.read_text().splitlines() if line.startswith("PPid:"))
        except (OSError, StopIteration):
            continue
        if int(ppid.split()[1]) == parent:
            children.add(int(status.parent.name))
    return children


async def wait_until_workers_listen(main_pid: int, expected: int | None = None) -> None:
    """Every worker process of this run (WORKER_PROCESSES unless `expected` says) has sent its heartbeat
    (see WorkerHeartbeat), so all are consuming."""
    from app.redis_client import get_redis
    from app.services.health import HEARTBEAT_PREFIX
    from app.settings import get_settings

    expected = expected or get_settings().workers.processes
    deadline = time.monotonic() + 60
    while True:
        beating = {int(key.rsplit(":", 1)[1]) async for key in get_redis().scan_iter(f"{HEARTBEAT_PREFIX}*")}
        if len(beating & await asyncio.to_thread(child_pids, main_pid)) >= expected:
            return
        if time.monotonic() > deadline:
            raise SystemExit("the workers did not start within a minute")
        await asyncio.sleep(0.1)


def dkim_msgs_per_s_per_core(seconds: float = 3.0) -> float:
    """The signer on one of the campaign's messages, in this process: what one core signs per second."""
    from app.services.rendering import CampaignContent, CampaignSettings, CompiledMessage, PatternUrls
    from app.services.rendering.dkim import DkimSigner, generate_dkim_key

    urls = PatternUrls(unsubscribe="https://example.com/u/{delivery_id}",
                       mailto="mailto:unsubscribe@mail.example.com?subject={delivery_id}",
                       web_version="https://example.com/v/{delivery_id}")
    compiled = CompiledMessage(CampaignContent(1, "{Hi|Hello} {{ first_name }}, spring picks", template_html()),
                               CampaignSettings(from_email="news@mail.example.com", urls=urls,
                                                feedback_id="1:1:campaign:ignite"))
    message = compiled.render({"id": 1, "email": "user1@example1.com", "first_name": "Name1", "city": "Oslo"}, 1)
    key = generate_dkim_key().private_key_pem
    signer = DkimSigner(domain="mail.example.com", selector="ignite", private_key_pem=key)
    signed, started = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - started) < seconds:
        signer.sign(message)
        signed += 1
    return signed / elapsed


def openssl_rsa2048_sign_per_s() -> float | None:
    """`openssl speed -seconds 3 rsa2048`'s sign/s (one core), or None without the openssl command."""
    if shutil.which("openssl") is None:
        return None
    output = subprocess.run(["openssl", "speed", "-seconds", "3", "rsa2048"], capture_output=True, text=True,
                            check=True).stdout
    found = re.search(r"^rsa\s+2048 bits\s+\S+\s+\S+\s+([\d.]+)", output, re.MULTILINE)
    return float(found.group(1)) if found else None


def smtp_source_msgs_per_s(count: int) -> tuple[float, float]:
    """smtp-source's rate into a sink like the campaign's, and that sink's CPU milliseconds per message."""
    dump = dump_folder("ignite-source-bench-") / "source.dump"
    sink, port = start_sink(dump)
    try:
        started, cpu_before = time.perf_counter(), cpu_seconds({sink.pid})
        subprocess.run([SMTP_SOURCE, "-d", "-s", str(SOURCE_SESSIONS), "-m", str(count), "-l", str(BODY_BYTES),
                        f"127.0.0.1:{port}"], check=True, stdout=subprocess.DEVNULL)
        return count / (time.perf_counter() - started), (cpu_seconds({sink.pid}) - cpu_before) * 1000 / count
    finally:
        sink.terminate()
        sink.wait(timeout=10)
        dump.unlink(missing_ok=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10,000 recipients instead of 100,000")
    parser.add_argument("--recipients", type=int, default=None)
    parser.add_argument("--no-dkim", dest="dkim", action="store_false", help="send without DKIM signatures")
    parser.add_argument("--materialise", type=int, default=None,
                        help="recipients for the materialisation figures (1,000,000; 200,000 with --quick)")
    options = parser.parse_args()
    recipients = options.recipients or (10_000 if options.quick else 100_000)
    if not (Path(SMTP_SINK).exists() and Path(SMTP_SOURCE).exists()):
        raise SystemExit(f"{SMTP_SINK} and {SMTP_SOURCE} are needed: apt-get install -y postfix")
    if not os.environ.get("DATABASE_URL"):
        from app.embedded import ensure_services

        services = ensure_services(BENCH, 54339, 63809)
        os.environ.update({"DATABASE_URL": services.database_url, "REDIS_URL": services.redis_url})
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    figures: dict[str, str] = {}
    dump = dump_folder("ignite-campaign-bench-") / "campaign.dump"
    sink, port = start_sink(dump)
    materialising = options.materialise or (200_000 if options.quick else 1_000_000)

    async def measure() -> None:
        # One event loop for both: the app's Redis client belongs to the loop that first used it.
        await run_campaign(recipients, options.dkim, dump, port, sink.pid, figures)
        await materialise_figures(materialising, figures)

    try:
        asyncio.run(measure())
    finally:
        sink.terminate()
        sink.wait(timeout=10)
        dump.unlink(missing_ok=True)
    source, source_sink_ms = smtp_source_msgs_per_s(recipients)
    figures["smtp_source_sink_cpu_ms_per_msg"] = f"{source_sink_ms:.2f} ms"
    figures["smtp_source_msgs_per_s"] = f"{source:.0f} msgs/s"
    figures["campaign_ratio"] = f"{float(figures['campaign_msgs_per_s'].split()[0]) / source:.2f}"
    figures["dkim_msgs_per_s_per_core"] = f"{dkim_msgs_per_s_per_core():.0f} msgs/s"
    openssl = openssl_rsa2048_sign_per_s()
    figures["openssl_rsa2048_sign_per_s"] = f"{openssl:.0f} signs/s" if openssl else "n/a (no openssl command)"
    for name, value in figures.items():
        print(f"{name}: {value}", flush=True)


if __name__ == "__main__":
    main()
