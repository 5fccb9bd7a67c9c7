"""Renders for a web request run on a worker thread, never on the event loop.

A template is the customer's code: while one renders, the process must keep answering
every other request (`/health` included). The request waits at most `wait_seconds`;
when it stops waiting (time is up, or the request is cancelled) the render is told to stop and does so
at its next step, so no thread keeps burning CPU for a page nobody will see.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from app.services.rendering.budget import stoppable, too_long

T = TypeVar("T")

# Two threads per web process: renders queue behind each other instead of taking every core.
_POOL = ThreadPoolExecutor(max_workers=2, thread_name_prefix="render")
_running = 0
_running_lock = threading.Lock()


def renders_running() -> int:
    """How many renders are on a thread in this process right now."""
    return _running


def _run_stoppable(stop: threading.Event, work: Callable[[], T]) -> T:
    global _running
    with _running_lock:
        _running += 1
    try:
        with stoppable(stop):
            return work()
    finally:
        with _running_lock:
            _running -= 1


async def render_off_loop(work: Callable[[], T], wait_seconds: float) -> T:
    """`work()` on a render thread; `BudgetExceeded` ("takes too long") if it has not finished in `wait_seconds`."""
    stop = threading.Event()
    future = asyncio.get_running_loop().run_in_executor(_POOL, _run_stoppable, stop, work)
    try:
        return await asyncio.wait_for(future, wait_seconds)
    except TimeoutError as error:
        raise too_long(f"it did not finish within {wait_seconds:g} seconds.") from error
    finally:
        stop.set()
