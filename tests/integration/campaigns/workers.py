"""Real worker processes, started the way `ignite worker` starts them, each in its own process group."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

from app.cli import worker_command, worker_environment

# Threads of each test worker; the reliability bounds count lanes per thread.
THREADS = 4

# Short leases and a short "nobody is claiming" wait, so a killed worker's batch comes back within a test.
FAST_RECOVERY = {"SEND_LEASE_SECONDS": "10", "SEND_REQUEUE_AFTER_SECONDS": "3"}


class Worker:
    """`dramatiq app.tasks` with one process; `kill()` is a machine dying (SIGKILL to the whole group)."""

    def __init__(self, log: Path, threads: int = 4, env: dict[str, str] | None = None) -> None:
        command = worker_command()
        command[command.index("--processes") + 1] = "1"
        command[command.index("--threads") + 1] = str(threads)
        self.log = log
        self.process = subprocess.Popen(
            command, env={**worker_environment(), **FAST_RECOVERY, **(env or {})}, start_new_session=True,
            stdout=log.open("ab"), stderr=subprocess.STDOUT)

    def kill(self) -> None:
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def terminate(self) -> None:
        """SIGTERM to the main process only, as a process manager sends it; it stops its worker itself."""
        if self.process.poll() is None:
            self.process.terminate()

    def wait(self) -> int:
        try:
            return self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.kill()
            return self.process.returncode
