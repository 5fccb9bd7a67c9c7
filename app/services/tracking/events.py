"""The hot path's one piece of I/O: appending opens and clicks to the Redis stream, group-committed.

Trade-off chosen: a request is answered only after the stream entry holding its event was appended (XADD
acknowledged by Redis), so an answered event is never lost, not even when the process is killed the next
instant. The cost stays well under one round trip per request because appends are group-committed: one
writer task per process takes everything that queued up while its previous append was in flight and
appends it as one stream entry (up to `MAX_BATCH` events; more go as several entries in one pipeline).
Under load an entry holds dozens of events for one round trip and one small command; when idle a request
waits for a single round trip, about what its own XADD would cost. There is no timer to wait out.

An entry's events are lines of tab-separated fields (`event_line`); event N of entry E is known
everywhere after as `E.N`, the unique stream id its row in `events` carries.

The buffer is bounded (TRACKING_BUFFER_MAX): when Redis falls behind, requests wait for room instead of
growing memory. At shutdown `close()` appends what is queued before the process exits. When Redis cannot
be reached the waiting requests get the error, and the route still serves the pixel or the redirect:
the recipient is never refused for our outage, and the loss is logged.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

from redis.asyncio import Redis

STREAM = "ignite:tracking:events"
GROUP = "aggregators"
FIELD = "e"
MAX_BATCH = 256
OPEN, CLICK = "open", "click"
MAX_AGENT = 512
_FIELDS = 7


@dataclass(frozen=True, slots=True)
class StreamEvent:
    stream_id: str
    kind: str
    token: str
    at_us: int
    link: int | None
    url: str
    address: str
    agent: str


def event_line(kind: str, token: str, agent: str, address: str, link: int | None = None, url: str = "") -> str:
    """One request as a line of the stream; the time is taken here, so a re-delivered entry keeps it.

    Tokens, numbers, addresses and redirectable URLs hold no tab or line break; the User-Agent comes
    last, so a tab inside it stays part of it, and line breaks are taken out."""
    clean_agent = agent[:MAX_AGENT].replace("\n", " ").replace("\r", " ")
    return (f"{kind}\t{token}\t{time.time_ns() // 1000}\t{'' if link is None else link}\t{url}\t{address}"
            f"\t{clean_agent}")


def entry_events(entry_id: str, fields: dict[str, str]) -> list[StreamEvent | None]:
    """The events of one stream entry, None for a line that is not one."""
    return [_event(f"{entry_id}.{number}", line) for number, line in enumerate(fields.get(FIELD, "").split("\n"))]


def _event(stream_id: str, line: str) -> StreamEvent | None:
    parts = line.split("\t", _FIELDS - 1)
    if len(parts) != _FIELDS or not parts[2].isdigit() or not (parts[3] == "" or parts[3].isdigit()):
        return None
    kind, token, at, link, url, address, agent = parts
    return StreamEvent(stream_id, kind, token, int(at), int(link) if link else None, url, address, agent)


class EventAppender:
    """Group-committed XADDs for one event loop (see the module docstring)."""

    def __init__(self, redis: Callable[[], Redis], buffer_max: int, stream: str = STREAM) -> None:
        self._redis = redis
        self._stream = stream
        self._buffer_max = buffer_max
        self._queued: list[tuple[str, asyncio.Future[None]]] = []
        self._wake = asyncio.Event()
        self._room = asyncio.Event()
        self._room.set()
        self._writer: asyncio.Task[None] | None = None
        self._closing = False

    async def append(self, line: str) -> None:
        """Returns once the event is in the stream; raises the Redis error when it could not be appended."""
        while len(self._queued) >= self._buffer_max:
            self._room.clear()
            await self._room.wait()
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queued.append((line, done))
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

    def _take(self) -> list[tuple[str, asyncio.Future[None]]]:
        batch, self._queued = self._queued, []
        self._room.set()
        return batch

    async def _write(self, batch: list[tuple[str, asyncio.Future[None]]]) -> None:
        pipeline = self._redis().pipeline(transaction=False)
        for start in range(0, len(batch), MAX_BATCH):
            pipeline.xadd(self._stream, {FIELD: "\n".join(line for line, _ in batch[start:start + MAX_BATCH])})
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
