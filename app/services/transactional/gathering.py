"""Group commit: concurrent calls that may share one statement run as one.

A call with a key joins the calls of that key waiting in this event loop. A run takes all of them at once (up to
`most`); while `in_flight` runs of a key are under way, new calls wait for the next, so under load each run
gathers what arrived during the previous one, and a lone call runs at once. Each call gets its own result,
and returns only once the run that holds it has finished; a caller inside a transaction must not be gathered.
When a run fails, its calls are run again one by one, so a call that cannot be stored fails alone instead of
failing its neighbours.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Awaitable, Callable, Hashable, Sequence
from typing import Generic, TypeVar

Key = TypeVar("Key", bound=Hashable)
Part = TypeVar("Part")
Result = TypeVar("Result")


class Gathering(Generic[Key, Part, Result]):
    def __init__(self, run: Callable[[Key, Sequence[Part]], Awaitable[list[Result]]], in_flight: int = 1,
                 most: int = 256) -> None:
        self.run, self.in_flight, self.most = run, in_flight, most
        self.waiting: dict[tuple[asyncio.AbstractEventLoop, Key], list[tuple[Part, asyncio.Future[Result]]]] = {}
        self.running: dict[tuple[asyncio.AbstractEventLoop, Key], int] = {}
        self.tasks: set[asyncio.Task[None]] = set()

    async def __call__(self, key: Key, part: Part) -> Result:
        loop = asyncio.get_running_loop()
        slot = (loop, key)
        future: asyncio.Future[Result] = loop.create_future()
        self.waiting.setdefault(slot, []).append((part, future))
        if self.running.get(slot, 0) < self.in_flight:
            self.running[slot] = self.running.get(slot, 0) + 1
            # A context of its own: the run belongs to none of its callers (nor to a transaction one of them holds).
            task = loop.create_task(self._drain(slot), context=contextvars.Context())
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)
        # A caller that goes away does not cancel the run its neighbours share.
        return await asyncio.shield(future)

    async def _drain(self, slot: tuple[asyncio.AbstractEventLoop, Key]) -> None:
        try:
            while self.waiting.get(slot):
                taken, self.waiting[slot] = self.waiting[slot][:self.most], self.waiting[slot][self.most:]
                await self._settled(slot[1], taken)
        finally:
            self.running[slot] -= 1
            if not self.running[slot]:
                del self.running[slot]
                self.waiting.pop(slot, None)

    async def _settled(self, key: Key, taken: list[tuple[Part, asyncio.Future[Result]]]) -> None:
        try:
            results = await self.run(key, [part for part, _ in taken])
        except Exception as exc:
            if len(taken) == 1:
                _answer(taken[0][1], exc)
                return
            for part, future in taken:
                try:
                    [result] = await self.run(key, [part])
                except Exception as alone:
                    _answer(future, alone)
                else:
                    _answer(future, result)
            return
        except BaseException:  # the loop is going away: so are its callers
            for _, future in taken:
                future.cancel()
            raise
        for (_, future), result in zip(taken, results, strict=True):
            _answer(future, result)


def _answer(future: asyncio.Future[Result], outcome: Result | Exception) -> None:
    if future.done():
        return
    if isinstance(outcome, Exception):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)
