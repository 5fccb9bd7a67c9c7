"""The delivery log of an endpoint (newest first, keyset pages), replaying a delivery, and the test ping."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta
from typing import Any

from app.db.webhooks import WebhookDelivery
from app.services import statements
from app.services.accounts import now
from app.services.tenancy import checked_workspace_id, fetch_owned, owned_by
from app.services.webhooks.delivery import attempt_all, record
from app.services.webhooks.endpoints import endpoint_of
from app.services.webhooks.events import PING, envelope, wake

PAGE_SIZE = 50


async def deliveries_of(workspace_id: int, endpoint_id: int, before_id: int | None = None,
                        limit: int = PAGE_SIZE) -> list[dict]:
    """The endpoint's deliveries, newest first, from just below `before_id`."""
    await endpoint_of(workspace_id, endpoint_id)
    query = WebhookDelivery.select().where(owned_by(WebhookDelivery, workspace_id),
                                           WebhookDelivery.endpoint_id == endpoint_id)
    if before_id is not None:
        query = query.where(WebhookDelivery.id < before_id)
    return await query.order_by(WebhookDelivery.id, ascending=False).limit(limit).output(load_json=True)


def next_try_at(due: datetime | None) -> datetime | None:
    """When a waiting retry is really posted: the retry job runs on the minute, so the minute after it is due."""
    if due is None:
        return None
    minute = due.replace(second=0, microsecond=0)
    return minute if minute == due else minute + timedelta(minutes=1)


def shown(rows: list[dict]) -> list[dict]:
    """The log's rows as the page shows them: when a waiting retry goes, and the body that was posted."""
    return [{**row, "next_try_at": next_try_at(row["next_attempt_at"]) if row["attempts"] else None,
             "body": json.dumps(envelope(row), indent=2, ensure_ascii=False)} for row in rows]


async def delivery_of(workspace_id: int, endpoint_id: int, delivery_id: object) -> dict:
    row = await fetch_owned(WebhookDelivery, workspace_id, delivery_id)
    if row is None or row["endpoint_id"] != endpoint_id:
        raise LookupError("webhook delivery")
    return row


async def _queued(workspace_id: int, endpoint_id: int, kind: str, payload: Any, event_id: uuid.UUID,
                  due: bool) -> dict:
    rows = await WebhookDelivery.insert(WebhookDelivery(
        workspace_id=checked_workspace_id(workspace_id), endpoint_id=endpoint_id, event_id=event_id, kind=kind,
        payload=payload if isinstance(payload, str) else json.dumps(payload), next_attempt_at=now() if due else None,
        created_at=now(),
    )).returning(*WebhookDelivery.all_columns())
    return rows[0]


async def replay(workspace_id: int, endpoint_id: int, delivery_id: int) -> dict:
    """The same event (same id, kind and data) queued again for the endpoint, as a new row of its log.

    While a delivery of the event still waits for a retry, that retry is brought forward instead (the row
    returned then has attempts): a replay never posts the event twice."""
    original = await delivery_of(workspace_id, endpoint_id, delivery_id)
    waiting = await statements.run("webhooks.bring-forward", checked_workspace_id(workspace_id), endpoint_id,
                                   original["event_id"])
    queued = waiting[0] if waiting else await _queued(
        workspace_id, endpoint_id, original["kind"], original["payload"], original["event_id"], due=True)
    await wake()
    return queued


async def ping(workspace_id: int, endpoint_id: int) -> dict:
    """A `ping` event posted to the endpoint now, once (enabled or not); the logged attempt."""
    endpoint = await endpoint_of(workspace_id, endpoint_id)
    row = await _queued(workspace_id, endpoint["id"], PING, {"message": "A test ping from Ignite."}, uuid.uuid4(),
                        due=False)
    await record([row], await attempt_all([row]))
    return await delivery_of(workspace_id, endpoint_id, row["id"])
