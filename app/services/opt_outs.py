"""Opt-outs that reach batches already being sent.

Claiming a batch checks who may still be mailed, but a batch takes a few seconds to send, and an
unsubscribe in those seconds must still stop every message not yet handed to a server. Whoever
unsubscribes subscriber rows announces them (workspace, list, address) on a Redis channel after the
commit; every sending process keeps what it heard, and when, for longer than a batch can live, and the
send loop asks before each message, with no I/O, whether the row opted out after its batch read who may
be mailed. A process listens before its first claim, so an opt-out is either
committed before a claim reads the rows or heard by the process that claimed them. Announcements lost
while Redis is unreachable leave only the claim's check, as before.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterable

from redis.asyncio import Redis
from redis.exceptions import RedisError

from app.logs import get_logger

log = get_logger("ignite.sending")
CHANNEL = "ignite:opt-outs"
# Longer than a batch's lease: a batch claimed before the opt-out is long finished by then.
REMEMBER_SECONDS = 900.0
READY_SECONDS = 2.0
RETRY_SECONDS = 1.0

Key = tuple[int, int | None, str]


async def announce(redis: Redis, workspace_id: int, rows: Iterable[tuple[int | None, str]]) -> None:
    """Tell every sending process that these (list, address) rows were just unsubscribed; never raises."""
    listed = [[list_id, email.lower()] for list_id, email in rows]
    if not listed:
        return
    try:
        await redis.publish(CHANNEL, json.dumps({"workspace": workspace_id, "rows": listed}))
    except RedisError as error:
        log.warning("opt_outs_not_announced", count=len(listed), error=str(error))


class OptOutWatch:
    """What this process heard on the channel, for `opted_out`; one per event loop (see `watch`)."""

    def __init__(self, redis: Callable[[], Redis]) -> None:
        self._redis = redis
        self._heard: dict[Key, float] = {}
        self._listening = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Listen from now on; waits (briefly) until the subscription stands."""
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._listen())
        try:
            await asyncio.wait_for(self._listening.wait(), READY_SECONDS)
        except TimeoutError:
            log.warning("opt_outs_not_listening")

    def since(self) -> float:
        """A moment to pass to `opted_out` later: take it before reading who may be mailed."""
        return time.monotonic()

    def opted_out(self, workspace_id: int, list_id: int | None, email: str, since: float) -> bool:
        """Whether the row was unsubscribed after `since`. Earlier opt-outs are in what was read then, and a
        person who opted out and rejoined before it is mailable again."""
        return self._heard.get((workspace_id, list_id, email.lower()), -1.0) >= since

    def heard(self, message: str) -> None:
        payload = json.loads(message)
        now = time.monotonic()
        for list_id, email in payload["rows"]:
            self._heard[(int(payload["workspace"]), list_id, str(email))] = now
        self._forget_older_than(now - REMEMBER_SECONDS)

    def _forget_older_than(self, moment: float) -> None:
        for key in [key for key, at in self._heard.items() if at < moment]:
            del self._heard[key]

    async def _listen(self) -> None:
        while True:
            pubsub = self._redis().pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(CHANNEL)
                self._listening.set()
                while True:
                    message = await pubsub.get_message(timeout=30.0)
                    if message is not None:
                        self.heard(message["data"])
            except (RedisError, OSError) as error:
                self._listening.clear()
                log.warning("opt_outs_listener_lost", error=str(error))
                await asyncio.sleep(RETRY_SECONDS)
            finally:
                await pubsub.aclose()


_watches: dict[asyncio.AbstractEventLoop, OptOutWatch] = {}


async def watch(redis: Callable[[], Redis]) -> OptOutWatch:
    """This event loop's watch, listening."""
    loop = asyncio.get_running_loop()
    found = _watches.get(loop)
    if found is None:
        found = _watches[loop] = OptOutWatch(redis)
    await found.start()
    return found
