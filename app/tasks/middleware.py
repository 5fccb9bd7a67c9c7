"""Worker concerns shared by every actor: a database pool per process, heartbeats, outcome counters."""

from __future__ import annotations

import json
import os
import socket
import threading
import time

import dramatiq
from dramatiq.asyncio import get_event_loop_thread
from dramatiq.middleware import Middleware

from app.metrics import ACTOR_OUTCOMES_KEY
from app.redis_client import get_sync_redis
from app.services.health import HEARTBEAT_PREFIX

HEARTBEAT_SECONDS = 10


class StructuredLogs(Middleware):
    """Worker processes log JSON like the web processes do."""

    def after_process_boot(self, broker: dramatiq.Broker) -> None:
        from app.logs import configure_logging
        from app.settings import get_settings

        configure_logging(get_settings().log_level, process="worker")


class DatabasePool(Middleware):
    """Opens Piccolo's pool on the worker's event loop thread after boot, closes it at shutdown."""

    def after_worker_boot(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        from app.piccolo_conf import DB

        loop_thread = get_event_loop_thread()
        if loop_thread is not None:
            loop_thread.run_coroutine(DB.start_connection_pool(min_size=1, max_size=4))

    def before_worker_shutdown(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        from app.piccolo_conf import DB

        loop_thread = get_event_loop_thread()
        if loop_thread is not None and DB.pool is not None:
            loop_thread.run_coroutine(DB.close_connection_pool())


class WorkerHeartbeat(Middleware):
    """Each worker process keeps a short-lived Redis key alive; /health counts the live ones."""

    def __init__(self) -> None:
        self._stop = threading.Event()

    def after_worker_boot(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        key = f"{HEARTBEAT_PREFIX}{socket.gethostname()}:{os.getpid()}"
        value = json.dumps({"host": socket.gethostname(), "pid": os.getpid(), "started": int(time.time())})

        def beat() -> None:
            redis = get_sync_redis()
            while not self._stop.is_set():
                try:
                    redis.set(key, value, ex=HEARTBEAT_SECONDS * 3)
                except Exception:  # Redis away for a moment: the next beat tries again
                    pass
                self._stop.wait(HEARTBEAT_SECONDS)
            redis.delete(key)

        threading.Thread(target=beat, name="ignite-heartbeat", daemon=True).start()

    def before_worker_shutdown(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        self._stop.set()


class ActorOutcomes(Middleware):
    """Counts actor runs by outcome in Redis, where /metrics of any web process reads them."""

    def after_process_message(self, broker, message, *, result=None, exception=None) -> None:
        outcome = "failed" if exception is not None else "succeeded"
        get_sync_redis().hincrby(ACTOR_OUTCOMES_KEY, f"{message.actor_name}:{outcome}", 1)

    def after_skip_message(self, broker, message) -> None:
        get_sync_redis().hincrby(ACTOR_OUTCOMES_KEY, f"{message.actor_name}:skipped", 1)
