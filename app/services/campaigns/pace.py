"""How fast a campaign is going and when it should end, for the live detail page.

The rate is measured over the last seconds of what the page watched (messages
done, whatever their outcome): a campaign slowed by a quota or a speed limit
shows its pace now, not its average since it started. Before the page has
watched long enough, the average since the start stands in.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

# Long enough to smooth over batches landing in bursts, short enough to follow a change of pace.
WINDOW_SECONDS = 20.0


@dataclass(frozen=True)
class Pace:
    per_minute: float | None
    finish_at: datetime | None


def done_of(figures: Mapping[str, Any]) -> int:
    """Messages that reached an end: sent, failed for good, or skipped."""
    return int(figures["sent"]) + int(figures["failed"]) + int(figures["skipped"])


def percent_done(figures: Mapping[str, Any]) -> int:
    recipients = int(figures["recipients"])
    if not recipients:
        return 0
    return min(100, done_of(figures) * 100 // recipients)


class PaceMeter:
    """Samples of (seconds on a monotonic clock, messages done), the oldest dropped past the window."""

    def __init__(self, window_seconds: float = WINDOW_SECONDS) -> None:
        self.window_seconds = window_seconds
        self.samples: deque[tuple[float, int]] = deque()

    def add(self, at: float, done: int) -> None:
        self.samples.append((at, done))
        while len(self.samples) > 2 and at - self.samples[1][0] >= self.window_seconds:
            self.samples.popleft()

    def per_second(self) -> float | None:
        """Messages a second over the samples kept; None until two samples a second apart."""
        if len(self.samples) < 2:
            return None
        (first_at, first_done), (last_at, last_done) = self.samples[0], self.samples[-1]
        if last_at - first_at < 1.0:
            return None
        return max(0, last_done - first_done) / (last_at - first_at)


def average_per_second(campaign: Mapping[str, Any], done: int, now: datetime) -> float | None:
    started = campaign["started_at"]
    if started is None or not done:
        return None
    elapsed = (now - started).total_seconds()
    return done / elapsed if elapsed > 0 else None


def pace(campaign: Mapping[str, Any], figures: Mapping[str, Any], now: datetime,
         measured_per_second: float | None = None) -> Pace:
    """The rate (measured, else the average since the start) and, while sending, when the last message should go."""
    per_second = measured_per_second
    if per_second is None:
        per_second = average_per_second(campaign, done_of(figures), now)
    if per_second is None:
        return Pace(None, None)
    if campaign.get("speed_per_hour"):
        # A burst measured before the limit bit says nothing of the pace the limit allows.
        per_second = min(per_second, campaign["speed_per_hour"] / 3600)
    waiting = int(figures["waiting"])
    finish = None
    if campaign["status"] == "sending" and waiting and per_second > 0:
        finish = now + timedelta(seconds=waiting / per_second)
    return Pace(per_second * 60, finish)
