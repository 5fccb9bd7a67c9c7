"""The collector and a long-running process's start-up objects."""

from __future__ import annotations

import gc

# Young objects a collection waits for, and how rarely a full collection follows (the defaults are 700, 10, 10).
# A server's allocations are nearly all short-lived and freed by reference counting; what the cycle collector
# finds, it finds as well a little later. A full collection stops the event loop for 30-50 ms.
THRESHOLDS = (7_000, 10, 100)


def freeze_startup_objects() -> None:
    """Moves what exists now (modules, routes, templates, actors: some 300,000 objects) out of the collector's
    reach, and makes its full collections rarer. Each full collection walked them all, pausing the process
    130-250 ms under load, which was the web server's p99; they live as long as the process, so there is
    nothing to find among them."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)
