"""The hot path's one piece of I/O: appending an open or click to the Redis stream, in pipelined batches.

Trade-off chosen: a request is answered only after the batch holding its event was appended (XADD
acknowledged by Redis), so an answered event is never lost, not even when the process is killed the next
instant. The cost stays well under one round trip per request because appends are group-committed: one
writer task per process sends everything that queued up while the previous pipeline was in flight, as one
pipeline. Under load a batch holds dozens of events for one round trip; when idle a request waits for a
single round trip, about what one XADD would cost it. There is no timer to wait out.

The buffer is bounded (TRACKING_BUFFER_MAX): when Redis falls behind, requests wait for room instead of
growing memory. At shutdown `close()` appends what is queued before the process exits. When Redis cannot
be reached the waiting requests get the error, and the route still serves the pixel or the redirect:
the recipient is never refused for our outage, and the loss is logged.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from redis.asyncio import Redis

STREAM = "ignite:tracking:events"
GROUP = "aggregators"
MAX_BATCH = 1000
# Stream fields: short names, as every byte is stored once per event until the aggregator trims it.
KIND, TOKEN, LINK, URL, AT, AGENT, ADDRESS = "k", "t", "l", "u", "at", "ua", "ip"
OPEN, CLICK = "open", "click"
MAX_AGENT = 512


def event_fields(kind: str, token: str, agent: str, address: str, link: int | None = None,
                 url: str = "") -> dict[str, str]:
    """The stream entry of one request; the time is taken here, so a re-delivered entry keeps it."""
    fields = {KIND: kind, TOKEN: token, AT: str(time.time_ns() // 1000), AGENT: agent[:MAX_AGENT],
              ADDRESS: address}
    if link is not None:
        fields[LINK] = str(link)
    if url:
        fields[URL] = url
    return fields


class EventAppender:
    """Group-committed XADDs for one event loop (see the module docstring)."""

    def __init__(self, redis: Callable[[], Redis], buffer_max: int, stream: str = STREAM) -> None:
        self._redis = redis
        self._stream = stream
        self._buffer_max = buffer_max
        self._queued: list[tuple[dict[str, str], asyncio.Future[None]]] = []
        self._wake = asyncio.Event()
        self._room = asyncio.Event()
        self._room.set()
        self._writer: asyncio.Task[None] | None = None
        self._closing = False

    async def append(self, fields: dict[str, str]) -> None:
        """Returns once the event is in the stream; raises the Redis error when it could not be appended."""
        while len(self._queued) >= self._buffer_max:
            self._room.clear()
            await self._room.wait()
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queued.append((fields, done))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_forever())
        self._wake.set()
        await done

    async def _write_forever(self) -> None:
        while not (self._closing and not self._queued):
            await self._wake.wait()
            self._wake.clear()
            # One more turn of the loop lets requests already being handled join this batch.
            await asyncio.sleep(0)
            while self._queued:
                await self._write(self._take())

    def _take(self) -> list[tuple[dict[str, str], asyncio.Future[None]]]:
        batch, self._queued = self._queued[:MAX_BATCH], self._queued[MAX_BATCH:]
        self._room.set()
        return batch

    async def _write(self, batch: list[tuple[dict[str, str], asyncio.Future[None]]]) -> None:
        pipeline = self._redis().pipeline(transaction=False)
        for fields, _ in batch:
            pipeline.xadd(self._stream, fields)
        try:
            await pipeline.execute()
        except Exception as error:
            for _, done in batch:
                if not done.done():
                    done.set_exception(error)
            return
        for _, done in batch:
            if not done.done():
                done.set_result(None)

    async def close(self) -> None:
        """Append everything queued, the batch in flight included, and let the writer end (at shutdown)."""
        self._closing = True
        self._wake.set()
        if self._writer is not None:
            await self._writer
        while self._queued:
            await self._write(self._take())


_appenders: dict[asyncio.AbstractEventLoop, EventAppender] = {}


def appender(redis: Callable[[], Redis], buffer_max: int) -> EventAppender:
    """This event loop's appender, made on first use."""
    loop = asyncio.get_running_loop()
    found = _appenders.get(loop)
    if found is None:
        found = _appenders[loop] = EventAppender(redis, buffer_max)
    return found


async def close_appender() -> None:
    found = _appenders.pop(asyncio.get_running_loop(), None)
    if found is not None:
        await found.close()
