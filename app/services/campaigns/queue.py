"""What the campaign service asks of the task queue, without importing it: a port the tasks module fills.

Batches travel as ranges of delivery ids. A range is only a hint of where to
look: the claim takes the rows of the range that are still waiting, so a range
sent twice, or one that overlaps another, never sends a message twice.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol


class SendQueue(Protocol):
    def send_batch(self, workspace_id: int, campaign_id: int, first_id: int, last_id: int,
                   delay_seconds: float = 0.0) -> None:
        """Have a send actor claim and send the waiting deliveries of this id range (after the delay)."""
        ...

    def materialise(self, workspace_id: int, campaign_id: int) -> None:
        """Have a worker write the campaign's deliveries (or carry on from where a dead worker stopped)."""
        ...


def id_ranges(ids: Iterable[int], size: int) -> list[tuple[int, int]]:
    """Sorted ids cut into (first, last) ranges of at most `size` ids each."""
    ordered = sorted(ids)
    return [(ordered[start], ordered[min(start + size, len(ordered)) - 1]) for start in range(0, len(ordered), size)]


def enqueue_ranges(queue: SendQueue, workspace_id: int, campaign_id: int, ranges: Iterable[tuple[int, int]],
                   delay_seconds: float = 0.0) -> int:
    count = 0
    for first, last in ranges:
        queue.send_batch(workspace_id, campaign_id, first, last, delay_seconds)
        count += 1
    return count
