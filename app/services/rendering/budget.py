"""What one render of user content may spend: steps, characters and seconds.

A template is code written by a customer, run on our CPU. Every render (save check,
preview, test send, campaign send) runs under a `Meter` that the sandbox charges as the
template works: one step per loop iteration, call and filter, and every character it
writes or builds. Over any limit raises `BudgetExceeded` with a message the editor shows
next to the field. A render can also be told to stop from outside (the web request
gave up waiting), which it notices at its next step.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from app.services.rendering.errors import RenderError

# Checking the clock and the stop signal on every step would cost more than the step.
CHECK_EVERY = 256
# Python refuses to print integers longer than 4,300 digits; stay well below.
MAX_DIGITS = 4_000


@dataclass(frozen=True)
class RenderBudget:
    """Steps and characters for each part of a message (subject, HTML, text); seconds for the whole message."""

    steps: int = 100_000
    chars: int = 2_000_000
    seconds: float = 2.0


DEFAULT_BUDGET = RenderBudget()


class BudgetExceeded(RenderError):
    """A render went over its budget; the message says which limit and what to change."""

    def __init__(self, message: str, *, too_large: bool) -> None:
        super().__init__(message)
        self.too_large = too_large


def too_long(detail: str) -> BudgetExceeded:
    return BudgetExceeded(f"This template takes too long to render: {detail}", too_large=False)


def too_large(detail: str) -> BudgetExceeded:
    return BudgetExceeded(f"This template is too large to render: {detail}", too_large=True)


class Meter:
    """The running account of one render against its budget."""

    __slots__ = ("_deadline", "_stop", "_until_check", "budget", "chars", "steps")

    def __init__(self, budget: RenderBudget, stop: threading.Event | None = None) -> None:
        self.budget = budget
        self.steps = 0
        self.chars = 0
        self._deadline = time.monotonic() + budget.seconds
        self._stop = stop
        self._until_check = 0

    def step(self, count: int = 1) -> None:
        self.steps += count
        if self.steps > self.budget.steps:
            raise too_long(f"it runs more than {self.budget.steps:,} loop iterations, calls and filters. "
                           "Loop over fewer items.")
        self._until_check -= count
        if self._until_check <= 0:
            self._check_clock()

    def next_part(self) -> None:
        """Steps and characters are counted per part (subject, HTML, text); the clock runs for the message."""
        self.steps = 0
        self.chars = 0

    def charge(self, chars: int) -> None:
        """Count characters written or built (on the hot path of every message: kept to one comparison)."""
        self.chars += chars
        if self.chars > self.budget.chars:
            raise self.over_chars()

    def affordable(self, chars: int) -> None:
        """Refuse before building what would not fit."""
        if self.chars + chars > self.budget.chars:
            raise self.over_chars()

    def over_chars(self) -> BudgetExceeded:
        return too_large(f"it produces more than {self.budget.chars:,} characters.")

    def _check_clock(self) -> None:
        self._until_check = CHECK_EVERY
        if self._stop is not None and self._stop.is_set():
            raise too_long("it was stopped because the page could not wait any longer.")
        if time.monotonic() > self._deadline:
            raise too_long(f"it takes more than {self.budget.seconds:g} seconds.")


_ACTIVE: ContextVar[Meter | None] = ContextVar("render_meter", default=None)
_STOP: ContextVar[threading.Event | None] = ContextVar("render_stop", default=None)


active_meter = _ACTIVE.get


@contextmanager
def metering(budget: RenderBudget) -> Iterator[Meter]:
    """Charge everything rendered inside the block to a fresh meter."""
    meter = Meter(budget, _STOP.get())
    token = _ACTIVE.set(meter)
    try:
        yield meter
    finally:
        _ACTIVE.reset(token)


@contextmanager
def stoppable(stop: threading.Event) -> Iterator[None]:
    """Renders started inside the block stop at their next step once `stop` is set."""
    token = _STOP.set(stop)
    try:
        yield
    finally:
        _STOP.reset(token)
