"""History for the intelligence tests: subscribers, their human opens and clicks, and who left when."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from app.services.analytics.intelligence.churn import HORIZON_DAYS
from app.services.sqlparams import fetch_positional
from tests.factories import make_list, make_subscribers


async def add_events(workspace_id: int, events: list[tuple[int, str, datetime]]) -> None:
    await fetch_positional(
        "INSERT INTO events (workspace_id, subscriber_id, kind, occurred_at) "
        "SELECT $1, unnest($2::bigint[]), unnest($3::text[]), unnest($4::timestamptz[])",
        (workspace_id, [e[0] for e in events], [e[1] for e in events], [e[2] for e in events]))


async def leave(workspace_id: int, subscriber_ids: list[int], at: datetime, status: str = "unsubscribed") -> None:
    await fetch_positional("UPDATE subscribers SET status = $2 WHERE id = ANY($1::bigint[])", (subscriber_ids, status))
    await fetch_positional(
        "INSERT INTO subscriber_status_changes (workspace_id, subscriber_id, from_status, to_status, created_at) "
        "SELECT $1, unnest($2::bigint[]), 'confirmed', $3, $4", (workspace_id, subscriber_ids, status, at))


async def history(workspace: dict, n: int, now: datetime, *, signal: bool, seed: int = 7) -> dict[str, list[int]]:
    """n subscribers on a list for 200 days. With `signal`, half keep opening and half faded before the cutoff
    and went silent after it (a few loyal ones unsubscribe anyway); without, opens are random and who
    unsubscribes after the cutoff is a coin toss."""
    rng = random.Random(seed)
    mailing_list = await make_list(workspace)
    ids = [row["id"] for row in await make_subscribers(mailing_list, n)]
    await fetch_positional("UPDATE subscribers SET created_at = $2 WHERE id = ANY($1::bigint[])",
                           (ids, now - timedelta(days=200)))
    cutoff = now - timedelta(days=HORIZON_DAYS)
    events: list[tuple[int, str, datetime]] = []
    groups: dict[str, list[int]] = {"loyal": [], "fading": [], "left": []}
    for position, subscriber_id in enumerate(ids):
        if signal and position % 2 == 0:
            groups["loyal"].append(subscriber_id)
            events += [(subscriber_id, "open", cutoff - timedelta(days=days)) for days in (3, 10, 25, 50)]
            events += [(subscriber_id, "click", cutoff - timedelta(days=10)),
                       (subscriber_id, "open", now - timedelta(days=5))]
            if rng.random() < 0.15:
                groups["left"].append(subscriber_id)
        elif signal:
            groups["fading"].append(subscriber_id)
            events.append((subscriber_id, "open", cutoff - timedelta(days=70)))
        else:
            events += [(subscriber_id, "open", cutoff - timedelta(days=rng.uniform(1, 170)))
                       for _ in range(rng.randint(0, 5))]
            events.append((subscriber_id, "open", now - timedelta(days=rng.uniform(1, HORIZON_DAYS - 1))))
            if rng.random() < 0.5:
                groups["left"].append(subscriber_id)
    await add_events(workspace["id"], events)
    if groups["left"]:
        await leave(workspace["id"], groups["left"], now - timedelta(days=2))
    return groups
