"""`ignite ...`: start the platform, run its processes, migrate, manage users."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path

from app.settings import SettingsError, data_dir


def _embedded_ports() -> tuple[int, int]:
    return int(os.environ.get("IGNITE_PG_PORT", "54329")), int(os.environ.get("IGNITE_REDIS_PORT", "63799"))


def _ensure_backing_services():
    """Use DATABASE_URL / REDIS_URL, or start (or reuse) the embedded servers under .data/."""
    from app.embedded import ensure_services

    pg_port, redis_port = _embedded_ports()
    return ensure_services(data_dir(), pg_port, redis_port)


def _fail(message: str) -> None:
    print(f"ignite: {message}", file=sys.stderr)
    raise SystemExit(2)


async def _migrate() -> None:
    from app.db.migrating import migrate

    await migrate()


async def _seed() -> tuple[str, str] | None:
    from app.services.demo import create_demo_workspace

    return await create_demo_workspace()


def cmd_migrate(_: argparse.Namespace) -> None:
    _ensure_backing_services()
    asyncio.run(_migrate())


def cmd_seed(_: argparse.Namespace) -> None:
    _ensure_backing_services()
    _print_credentials(asyncio.run(_seed()))


def _print_credentials(credentials: tuple[str, str] | None) -> None:
    if credentials is None:
        return
    email, password = credentials
    bar = "=" * 64
    print(f"\n{bar}\n  Demo workspace created. Sign in with\n    email:    {email}\n    password: {password}\n"
          f"  (shown only this once; `ignite createuser` makes more users)\n{bar}\n", flush=True)


def cmd_createuser(args: argparse.Namespace) -> None:
    _ensure_backing_services()
    password = args.password or getpass.getpass("Password (10+ characters): ")

    async def create() -> None:
        from app.db.accounts import Workspace
        from app.services.accounts import AccountError, add_member, create_user, create_workspace

        try:
            async with Workspace._meta.db.transaction():
                user = await create_user(args.email, password, args.name)
                workspace = await Workspace.select().where(Workspace.name == args.workspace).first()
                if workspace is None:
                    workspace = await create_workspace(args.workspace)
                await add_member(workspace["id"], user["id"], args.role)
        except AccountError as exc:
            _fail(str(exc))
        print(f"Created {user['email']} as {args.role} of {workspace['name']}.")

    asyncio.run(create())


def cmd_stop_sending(args: argparse.Namespace) -> None:
    """The operator's kill switch: no campaign of any workspace is sent until `ignite resume-sending`."""
    _ensure_backing_services()

    async def stop() -> None:
        from app.services.forms import FormError
        from app.services.kill_switch import stop_platform

        try:
            stopped = await stop_platform(args.reason, args.by or getpass.getuser())
        except FormError as exc:
            _fail(str(exc))
        print(f"Sending is stopped for every workspace ({stopped.reason}). `ignite resume-sending` restarts it.")

    asyncio.run(stop())


def cmd_resume_sending(_: argparse.Namespace) -> None:
    _ensure_backing_services()

    async def resume() -> None:
        from app.services.kill_switch import platform_stop, resume_platform

        lifted = await resume_platform()
        still = await platform_stop()
        if still is not None:
            _fail(f"sending stays stopped: {still.reason} (unset SENDING_STOPPED and restart the workers)")
        print("Sending restarted for every workspace." if lifted else "Sending was not stopped.")

    asyncio.run(resume())


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date as YYYY-MM-DD") from None


def cmd_rollups_rebuild(args: argparse.Namespace) -> None:
    """Recompute the Analytics rollups of the days from --since up to (not including) --until."""
    if args.until <= args.since:
        _fail("--until must come after --since (it is not included)")
    _ensure_backing_services()

    async def rebuild() -> None:
        from app.services.analytics.rollups import rebuild

        midnight = datetime.min.time()
        await rebuild(datetime.combine(args.since, midnight, UTC), datetime.combine(args.until, midnight, UTC),
                      args.workspace)
        scope = f"workspace {args.workspace}" if args.workspace else "every workspace"
        print(f"Rollups rebuilt from {args.since} to {args.until} (excluded) for {scope}.")

    asyncio.run(rebuild())


def cmd_demo_traffic(args: argparse.Namespace) -> None:
    """A campaign sent by the running platform's workers, and its recipients opening, clicking, unsubscribing
    and converting over HTTP, so the Analytics portal shows real figures (app/services/demo_traffic.py)."""
    from app.settings import get_settings

    _ensure_backing_services()
    # Read by main() before the embedded services put their URLs in the environment; Redis needs them.
    get_settings.cache_clear()

    async def traffic() -> None:
        import httpx

        from app.piccolo_conf import DB
        from app.redis_client import get_redis
        from app.services import demo_traffic
        from app.tasks.sending import QUEUE

        base_url = get_settings().base_url
        await DB.start_connection_pool(min_size=1, max_size=4)
        try:
            workspace_id = args.workspace or await demo_traffic.demo_workspace_id()
            async with httpx.AsyncClient(base_url=base_url, timeout=30) as http:
                await demo_traffic.run(get_redis(), QUEUE, http, workspace_id, args.subscribers,
                                       lambda text: print(text, end="", flush=True), base_url)
        except demo_traffic.DemoError as exc:
            _fail(str(exc))
        finally:
            await DB.close_connection_pool()

    asyncio.run(traffic())


def cmd_demo_history(args: argparse.Namespace) -> None:
    """Ninety days of recorded past for the Demo audience, so churn and trends have history to learn from
    (app/services/demo_history.py); run after `ignite demo traffic`."""
    _ensure_backing_services()

    async def history() -> None:
        from app.piccolo_conf import DB
        from app.services import demo_history, demo_traffic

        await DB.start_connection_pool(min_size=1, max_size=2)
        try:
            workspace_id = args.workspace or await demo_traffic.demo_workspace_id()
            await demo_history.run(workspace_id, lambda text: print(text, end="", flush=True))
        except demo_traffic.DemoError as exc:
            _fail(str(exc))
        finally:
            await DB.close_connection_pool()

    asyncio.run(history())


def web_command(port: int | None = None) -> list[str]:
    from app.settings import get_settings

    settings = get_settings()
    return [
        sys.executable, "-m", "granian", "--interface", "asgi", "--factory", "app.main:create_server",
        "--host", settings.host, "--port", str(port or settings.port),
        "--workers", str(settings.workers.web_workers), "--no-access-log", "--log-level", "warning",
    ]


def _general_queues() -> list[str]:
    """Every queue but the transactional one, which has processes of its own."""
    from app.tasks import broker
    from app.tasks.transactional import QUEUE_NAME

    return sorted(queue for queue in broker.get_declared_queues() if queue != QUEUE_NAME)


def worker_command() -> list[str]:
    from app.settings import get_settings

    workers = get_settings().workers
    return [sys.executable, "-m", "dramatiq", "app.tasks", "--processes", str(workers.processes),
            "--threads", str(workers.threads), "--queues", *_general_queues()]


def transactional_worker_command() -> list[str]:
    """The transactional queue's own share: a process that consumes nothing else, so no campaign batch is ever
    ahead of a message in its queue."""
    from app.settings import get_settings
    from app.tasks.transactional import QUEUE_NAME

    return [sys.executable, "-m", "dramatiq", "app.tasks", "--processes", "1",
            "--threads", str(get_settings().workers.threads), "--queues", QUEUE_NAME]


def worker_environment() -> dict[str, str]:
    """The environment `worker_command()` runs in: this one, with dramatiq's idle poll cut from 1 s to 100 ms.

    dramatiq 2 takes that poll (`worker_timeout`) only from the environment, read when it is imported.
    An idle worker then notices a new batch, and a stop, within a tenth of a second.
    """
    return {"dramatiq_worker_timeout": "100", **os.environ}


def scheduler_command() -> list[str]:
    return [sys.executable, "-m", "app.cli", "scheduler"]


def inbound_command() -> list[str]:
    return [sys.executable, "-m", "app.cli", "inbound"]


def _prepare_metrics_dir() -> None:
    folder = Path(os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", str(data_dir() / "prometheus")))
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True, exist_ok=True)


def _refuse_unready_database() -> None:
    """Say plainly that the database is down or unmigrated, before a server starts and fails on it."""
    from app.db.migrating import ensure_migrated
    from app.settings import get_settings

    asyncio.run(ensure_migrated(get_settings().database.url))


def cmd_web(args: argparse.Namespace) -> None:
    _refuse_unready_database()
    _prepare_metrics_dir()
    os.execv(sys.executable, web_command(args.port))


def cmd_worker(_: argparse.Namespace) -> None:
    """The general worker processes and the transactional queue's own, stopped together."""
    _refuse_unready_database()
    children = [subprocess.Popen(command, env=worker_environment())
                for command in (worker_command(), transactional_worker_command())]

    def stop(signum: int, _: object) -> None:
        for child in children:
            if child.poll() is None:
                child.send_signal(signum)

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    while all(child.poll() is None for child in children):
        time.sleep(0.5)
    stop(signal.SIGTERM, None)
    sys.exit(max(child.wait() for child in children))


def cmd_scheduler(_: argparse.Namespace) -> None:
    from app.logs import configure_logging
    from app.settings import get_settings
    from app.tasks.scheduler import run_scheduler

    configure_logging(get_settings().log_level, process="scheduler")
    run_scheduler()


async def _serve_inbound() -> None:
    """The inbound MX until SIGTERM or Ctrl-C: stored reports are queued for the bounce workers."""
    from app.piccolo_conf import DB
    from app.redis_client import get_redis
    from app.services.bounces.inbound import start_receiver
    from app.settings import get_settings
    from app.tasks.bounces import process_reports

    settings = get_settings()
    await DB.start_connection_pool(min_size=1, max_size=settings.database.pool_max)
    server = await start_receiver(settings, get_redis(), process_reports.send)
    stopping = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(signum, stopping.set)
    print(f"Inbound SMTP receiver on {settings.inbound.host}:{settings.inbound.port}.", flush=True)
    try:
        await stopping.wait()
    finally:
        server.close()
        await server.wait_closed()
        await DB.close_connection_pool()


def cmd_inbound(_: argparse.Namespace) -> None:
    from app.logs import configure_logging
    from app.settings import get_settings

    configure_logging(get_settings().log_level, process="inbound")
    # aiosmtpd logs every SMTP command at INFO: a busy MX would log little else.
    logging.getLogger("mail.log").setLevel(logging.WARNING)
    _refuse_unready_database()
    asyncio.run(_serve_inbound())


def cmd_dev(_: argparse.Namespace) -> None:
    """Everything on one machine: backing services, migrations, demo data, web, workers, scheduler."""
    from app.embedded import stop_services

    started_at = time.monotonic()
    services = _ensure_backing_services()
    asyncio.run(_migrate())
    _print_credentials(asyncio.run(_seed()))
    _prepare_metrics_dir()
    from app.settings import get_settings

    settings = get_settings()
    # Own sessions: Ctrl-C reaches only this process, which then stops each child gracefully.
    children = [
        subprocess.Popen(command, start_new_session=True, env=env)
        for command, env in ((web_command(), None), (worker_command(), worker_environment()),
                             (transactional_worker_command(), worker_environment()),
                             (scheduler_command(), None), (inbound_command(), None))
    ]
    print(f"Ignite is up at {settings.base_url} (ready in {time.monotonic() - started_at:.1f}s). "
          "Ctrl-C stops everything.", flush=True)
    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    try:
        while not stopping and all(child.poll() is None for child in children):
            time.sleep(0.5)
    finally:
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        for child in children:
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.wait(timeout=15)
            # Whatever is left of its session: a worker process Dramatiq's main process left behind, or all of it.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.pid, signal.SIGKILL)
            child.wait()
        stop_services(data_dir(), services)
        print("Ignite stopped.", flush=True)


def cmd_services(_: argparse.Namespace) -> None:
    services = _ensure_backing_services()
    print(f"DATABASE_URL={services.database_url}\nREDIS_URL={services.redis_url}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ignite", description="Ignite email marketing platform")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("dev", help="start everything locally (what `make run` does)").set_defaults(func=cmd_dev)
    web = commands.add_parser("web", help="run the web server (granian)")
    web.add_argument("--port", type=int, default=None)
    web.set_defaults(func=cmd_web)
    commands.add_parser("worker", help="run Dramatiq worker processes").set_defaults(func=cmd_worker)
    commands.add_parser("scheduler", help="run the periodic job scheduler").set_defaults(func=cmd_scheduler)
    commands.add_parser("inbound", help="run the inbound SMTP receiver (bounces, complaints, mailto unsubscribes)"
                        ).set_defaults(func=cmd_inbound)
    commands.add_parser("migrate", help="apply database migrations").set_defaults(func=cmd_migrate)
    commands.add_parser("seed", help="create the demo workspace if none exists").set_defaults(func=cmd_seed)
    commands.add_parser("services", help="start the embedded PostgreSQL and Redis").set_defaults(func=cmd_services)
    stop = commands.add_parser("stop-sending", help="stop every campaign send of every workspace")
    stop.add_argument("--reason", required=True, help="why; shown to every workspace")
    stop.add_argument("--by", default="", help="who stops it (default: your user name)")
    stop.set_defaults(func=cmd_stop_sending)
    commands.add_parser("resume-sending", help="lift `ignite stop-sending`").set_defaults(func=cmd_resume_sending)
    rollups = commands.add_parser("rollups", help="the Analytics rollups").add_subparsers(dest="rollups",
                                                                                        required=True)
    rebuild = rollups.add_parser("rebuild", help="recompute the rollups of a range of days from the raw tables")
    rebuild.add_argument("--since", required=True, type=_day, help="first day, YYYY-MM-DD (UTC)")
    rebuild.add_argument("--until", required=True, type=_day, help="day after the last, YYYY-MM-DD (UTC)")
    rebuild.add_argument("--workspace", type=int, default=None, help="one workspace's id (default: all)")
    rebuild.set_defaults(func=cmd_rollups_rebuild)
    demo = commands.add_parser("demo", help="demo data on the running platform").add_subparsers(dest="demo",
                                                                                               required=True)
    traffic = demo.add_parser("traffic", help="send a campaign through three capture servers while `ignite dev` "
                              "runs, then open, click, unsubscribe and convert like its recipients")
    traffic.add_argument("--workspace", type=int, default=None, help="a workspace's id (default: the demo's)")
    traffic.add_argument("--subscribers", type=int, default=2000, help="size of the Demo audience list")
    traffic.set_defaults(func=cmd_demo_traffic)
    history = demo.add_parser("history", help="record 90 days of past campaigns, opens, clicks, conversions and "
                              "leavers for the Demo audience (after `ignite demo traffic`)")
    history.add_argument("--workspace", type=int, default=None, help="a workspace's id (default: the demo's)")
    history.set_defaults(func=cmd_demo_history)
    create = commands.add_parser("createuser", help="create a user in a workspace")
    create.add_argument("--email", required=True)
    create.add_argument("--name", default="")
    create.add_argument("--workspace", default="Demo Workspace")
    create.add_argument("--role", default="owner", choices=["owner", "admin", "marketer", "analyst"])
    create.add_argument("--password", default="", help="prompted for when omitted")
    create.set_defaults(func=cmd_createuser)
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    try:
        from app.settings import get_settings

        get_settings()
        args.func(args)
    except SettingsError as exc:
        _fail(str(exc))
    except Exception as exc:
        from app.db.migrating import DatabaseNotReady
        from app.embedded import EmbeddedServiceError

        if isinstance(exc, DatabaseNotReady | EmbeddedServiceError):
            _fail(str(exc))
        raise


if __name__ == "__main__":
    main()
