"""Personal data: kept out of logs, exported on request, erased on request (GDPR)."""

from __future__ import annotations

from typing import Any

from app.db.audience import Subscriber
from app.services.leads import leads_of_subscribers
from app.services.tenancy import checked_workspace_id


def mask_email(address: str) -> str:
    """`bob@example.com` -> `b***@example.com`: enough to debug, not enough to identify."""
    local, sep, domain = address.partition("@")
    if not sep:
        return "***"
    return f"{local[:1]}***@{domain}"


async def person_export(workspace_id: int, email: str) -> dict[str, Any]:
    """Everything this workspace holds about an address (GDPR access request), as plain JSON data."""
    address = email.strip().lower()
    subscribers = await Subscriber.raw(
        "SELECT s.id, l.name AS list, s.status, s.fields, s.source, s.ip, s.created_at, s.confirmed_at, "
        "s.unsubscribed_at, s.last_open_at, s.last_click_at FROM subscribers s JOIN lists l ON l.id = s.list_id "
        "WHERE s.workspace_id = {} AND s.email = {}",
        checked_workspace_id(workspace_id), address,
    )
    ids = [row["id"] for row in subscribers]
    history = await Subscriber.raw(
        "SELECT subscriber_id, from_status, to_status, source, created_at FROM subscriber_status_changes "
        "WHERE workspace_id = {} AND subscriber_id = ANY({}) ORDER BY id", workspace_id, ids,
    )
    tags = await Subscriber.raw(
        "SELECT st.subscriber_id, t.name FROM subscriber_tags st JOIN tags t ON t.id = st.tag_id "
        "WHERE st.workspace_id = {} AND st.subscriber_id = ANY({})", workspace_id, ids,
    )
    events = await Subscriber.raw(
        "SELECT subscriber_id, kind, campaign_id, url, occurred_at FROM events "
        "WHERE workspace_id = {} AND subscriber_id = ANY({}) ORDER BY occurred_at", workspace_id, ids,
    )
    messages = await Subscriber.raw(
        "SELECT id, data, tags, metadata, created_at FROM transactional_messages "
        "WHERE workspace_id = {} AND email = {} ORDER BY id", workspace_id, address,
    )
    return {"email": address, "subscriptions": subscribers, "status_history": history, "tags": tags,
            "events": events, "leads": await leads_of_subscribers(workspace_id, ids),
            "transactional_messages": messages}


async def erase_person(workspace_id: int, email: str) -> int:
    """Delete the address's personal data; events stay for statistics but lose their link to the person.

    Transactional messages to the address keep their delivery record (what was sent when) but lose the merge
    data and metadata the sender gave with them."""
    address = email.strip().lower()
    async with Subscriber._meta.db.transaction():
        await Subscriber.raw(
            "UPDATE transactional_messages SET data = jsonb_build_object(), metadata = jsonb_build_object() "
            "WHERE workspace_id = {} AND email = {}", checked_workspace_id(workspace_id), address,
        )
        ids = [row["id"] for row in await Subscriber.raw(
            "SELECT id FROM subscribers WHERE workspace_id = {} AND email = {}",
            checked_workspace_id(workspace_id), address,
        )]
        if not ids:
            return 0
        await Subscriber.raw(
            "UPDATE events SET subscriber_id = NULL, meta = jsonb_build_object(), url = '' "
            "WHERE workspace_id = {} AND subscriber_id = ANY({})", workspace_id, ids,
        )
        await Subscriber.raw("DELETE FROM subscribers WHERE workspace_id = {} AND id = ANY({})", workspace_id, ids)
    return len(ids)
