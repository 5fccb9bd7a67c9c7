"""The subscribers a change applies to, chosen once per transaction, and status changes over them."""

from __future__ import annotations

from app.db.audience import Subscriber
from app.services import statements
from app.services.automations import triggers as flow_triggers
from app.services.sqlparams import Params, fetch
from app.services.subscribers.filters import SubscriberFilter, filter_sql
from app.services.subscribers.records import checked_status, subscriber_of
from app.services.webhooks import producers as webhook_events

# Past this many targets the planner is told their number, so a big change joins them by hash, not row by row.
ANALYZED_FROM = 10_000


async def choose_targets(workspace_id: int, chosen: SubscriberFilter) -> int:
    """Put the subscribers `chosen` names into `bulk_targets` (run inside a transaction); how many there are."""
    await statements.run("subscribers.targets-table")
    await statements.run("subscribers.clear-targets")
    params = Params()
    where = await filter_sql(params, workspace_id, chosen)
    rows = await fetch(
        f"WITH chosen AS (INSERT INTO bulk_targets (id) SELECT s.id FROM subscribers s WHERE {where} RETURNING 1) "
        "SELECT count(*) AS n FROM chosen", params)
    count = int(rows[0]["n"])
    if count >= ANALYZED_FROM:
        await fetch("ANALYZE bulk_targets")
    return count


async def change_status(workspace_id: int, chosen: SubscriberFilter, to_status: str, source: str) -> int:
    """Move every matching subscriber to `to_status`, recording each change; returns how many changed."""
    checked_status(to_status)
    async with Subscriber._meta.db.transaction():
        await choose_targets(workspace_id, chosen)
        rows = await statements.run("subscribers.change-status", workspace_id, to_status, source)
        await webhook_events.status_changed(workspace_id, to_status)
        await flow_triggers.status_changed(workspace_id, to_status)
    return int(rows[0]["n"])


async def set_status(workspace_id: int, subscriber_id: int, to_status: str, source: str) -> bool:
    """A status set by hand on one subscriber of this workspace; False when it already had that status."""
    await subscriber_of(workspace_id, subscriber_id)
    return await change_status(workspace_id, SubscriberFilter(ids=[subscriber_id]), to_status, source) == 1
