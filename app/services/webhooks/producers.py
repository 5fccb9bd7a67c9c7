"""The events of each producer, shaped once here so each producer's call is one line.

Each helper first asks whether the workspace hears the kind (cached, see events.py), so producers pay
nothing when no endpoint listens; the set-based ones (status changes, a tracking batch) then write every
event in one INSERT ... SELECT that reads what the payloads need in the same statement.
"""

from __future__ import annotations

import json
import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

from app.db.campaigns import Campaign
from app.services import statements
from app.services.tenancy import owned_by
from app.services.webhooks.events import listening_kinds, publish, wake

# A subscriber's new status and the event it is to an endpoint.
STATUS_EVENTS = {"confirmed": "subscriber.subscribed", "unsubscribed": "subscriber.unsubscribed"}
# People's opens and clicks; robots' (machine opens, bot clicks) and web views are not posted.
ENGAGEMENT_EVENTS = {"open": "message.opened", "click": "message.clicked"}
IMPORT_COUNTERS = ("rows_seen", "inserted", "updated", "skipped_duplicate", "invalid", "suppressed")


def subscriber_payload(row: Mapping[str, Any]) -> dict[str, Any]:
    return {"id": row["id"], "email": row["email"], "list_id": row["list_id"], "status": row["status"],
            "source": row.get("source", "")}


async def subscriber_added(workspace_id: int, row: Mapping[str, Any]) -> None:
    """A subscriber added already confirmed has subscribed (a double opt-in one does when confirming)."""
    if row["status"] in STATUS_EVENTS:
        await publish(workspace_id, STATUS_EVENTS[row["status"]], subscriber_payload(row))


async def status_changed(workspace_id: int, to_status: str) -> None:
    """After `subscribers.change-status`, in its transaction: one event per subscriber of `bulk_targets` it
    moved to `to_status` (found by the history row this transaction wrote)."""
    kind = STATUS_EVENTS.get(to_status)
    if kind is None or kind not in await listening_kinds(workspace_id):
        return
    await statements.run("webhooks.queue-status-changes", workspace_id, to_status, kind)
    await wake()


async def engagement(rows: Iterable[tuple]) -> None:
    """People's opens and clicks of a tracking batch (the aggregator's rows: stream id, workspace, campaign,
    delivery, kind, link, url, meta, time), for the workspaces that hear them."""
    chosen: dict[int, list[tuple]] = defaultdict(list)
    for row in rows:
        if row[4] in ENGAGEMENT_EVENTS:
            chosen[row[1]].append(row)
    heard: list[tuple] = []
    for workspace_id, found in chosen.items():
        kinds = await listening_kinds(workspace_id)
        heard += [row for row in found if ENGAGEMENT_EVENTS[row[4]] in kinds]
    if not heard:
        return
    await statements.run(
        "webhooks.queue-engagement", [row[1] for row in heard], [uuid.uuid4() for _ in heard],
        [ENGAGEMENT_EVENTS[row[4]] for row in heard], [row[3] for row in heard], [row[5] for row in heard],
        [row[6] or "" for row in heard], [row[8] for row in heard])
    await wake()


async def feedback(workspace_id: int, kind: str, delivery_id: int, report: Mapping[str, Any]) -> None:
    """A bounce or complaint (`kind`) of a campaign's or a transactional message's delivery, with what the
    report said; the payload names the message, the subscriber when there is one, and a transactional
    message's metadata and tags."""
    if kind not in await listening_kinds(workspace_id):
        return
    await statements.run("webhooks.queue-feedback", workspace_id, uuid.uuid4(), kind, delivery_id,
                         json.dumps(report))
    await wake()


async def campaign_finished(workspace_id: int, campaign_id: int) -> None:
    if "campaign.finished" not in await listening_kinds(workspace_id):
        return
    campaign = await Campaign.select(
        Campaign.id, Campaign.name, Campaign.recipient_count, Campaign.sent_count, Campaign.failed_count,
        Campaign.skipped_count, Campaign.finished_at,
    ).where(owned_by(Campaign, workspace_id), Campaign.id == campaign_id).first()
    if campaign is not None:
        await publish(workspace_id, "campaign.finished", campaign)


async def import_finished(row: Mapping[str, Any]) -> None:
    """An import ended (completed, failed or cancelled), with what it did."""
    await publish(row["workspace_id"], "import.finished", {
        "id": row["id"], "status": row["status"], "list_id": row.get("list_id"), "error": row.get("error") or "",
        **{name: row.get(name) for name in IMPORT_COUNTERS}})
