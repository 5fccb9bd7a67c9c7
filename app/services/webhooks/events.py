"""Publishing an event: one delivery row per enabled endpoint of the workspace that hears its kind.

Producers call `publish`/`publish_many` from hot paths (the tracking aggregator, bounces, the API), so a
workspace without a listening endpoint costs a dictionary lookup: the kinds each workspace's endpoints hear
are cached in the process for a few seconds and forgotten at once when this process changes an endpoint
(another process sees a change within `LISTENING_SECONDS`). Rows are written in the caller's transaction
when there is one, so an event of a change that rolls back is never posted; the delivery worker is woken
after the insert (later, when the rows only become visible at the caller's commit).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import date
from typing import Any

from app.piccolo_conf import DB
from app.redis_client import get_redis
from app.services import statements
from app.services.tenancy import checked_workspace_id

# The kinds an endpoint may hear, with what the settings page calls them.
KINDS: dict[str, str] = {
    "subscriber.subscribed": "Subscribed",
    "subscriber.unsubscribed": "Unsubscribed",
    "message.bounced": "Bounced",
    "message.complained": "Complained (spam report)",
    "message.opened": "Opened",
    "message.clicked": "Clicked",
    "conversion.created": "Converted",
    "message.status": "Transactional message status",
    "campaign.finished": "Campaign finished",
    "import.finished": "Import finished",
}
# The test ping a person sends from the settings page or the API; never published by producers.
PING = "ping"
LISTENING_SECONDS = 5.0
# A wake is sent at most once per this long while the worker has not started on the previous one.
WAKE_KEY = "ignite:webhooks:wake"
WAKE_MS = 5_000
# Rows written inside a transaction are visible only once it commits: the worker looks a little later.
AFTER_COMMIT_SECONDS = 2.0

Waker = Callable[[float], None]
_listening: dict[int, tuple[float, frozenset[str]]] = {}
_wakers: list[Waker] = []


def wake_with(waker: Waker) -> None:
    """The task module's way to have deliveries posted soon (a port: services never import tasks)."""
    _wakers[:] = [waker]


def forget_listening(workspace_id: int) -> None:
    """An endpoint of the workspace changed: the next publish reads what its endpoints hear again."""
    _listening.pop(workspace_id, None)


async def listening_kinds(workspace_id: int) -> frozenset[str]:
    """The kinds some enabled endpoint of the workspace hears (cached briefly)."""
    cached = _listening.get(workspace_id)
    if cached is not None and cached[0] > time.monotonic():
        return cached[1]
    rows = await statements.run("webhooks.listening-kinds", checked_workspace_id(workspace_id))
    kinds = frozenset(row["kind"] for row in rows)
    _listening[workspace_id] = (time.monotonic() + LISTENING_SECONDS, kinds)
    return kinds


def _plain(value: Any) -> str:
    """JSON for what producers hand over beside plain values: times in ISO 8601, decimals and ids as text."""
    return value.isoformat() if isinstance(value, date) else str(value)


async def publish(workspace_id: int, kind: str, payload: dict) -> None:
    """One event queued for every enabled endpoint of the workspace that listens to its kind."""
    await publish_many(workspace_id, [(kind, payload)])


async def publish_many(workspace_id: int, events: Sequence[tuple[str, dict]]) -> None:
    """Several events of one workspace queued in one statement for the endpoints that listen to them."""
    if not events:
        return
    heard = await listening_kinds(workspace_id)
    chosen = [(kind, payload) for kind, payload in events if kind in heard]
    if not chosen:
        return
    await statements.run(
        "webhooks.queue-events", workspace_id, [uuid.uuid4() for _ in chosen], [kind for kind, _ in chosen],
        [json.dumps(payload, default=_plain) for _, payload in chosen])
    await wake()


async def wake() -> None:
    """Have the delivery worker look for due rows soon; one wake covers every row written before it runs.

    Rows written in the caller's transaction are seen only after its commit: that wake comes a little later."""
    if not _wakers:
        return
    if DB.current_transaction.get() is not None:
        _wakers[0](AFTER_COMMIT_SECONDS)
    elif await get_redis().set(WAKE_KEY, "1", nx=True, px=WAKE_MS):
        _wakers[0](0.0)


def envelope(row: dict[str, Any]) -> dict[str, Any]:
    """The JSON body of a delivery: the same for every attempt and every endpoint of one event."""
    payload = row["payload"]
    return {"id": str(row["event_id"]), "type": row["kind"], "created_at": row["created_at"].isoformat(),
            "data": json.loads(payload) if isinstance(payload, str) else payload}
