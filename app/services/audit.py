"""The audit log: every state change, who made it, from where; also fed to the live activity feed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from redis.asyncio import Redis

from app.db.audit import AuditEntry
from app.services import activity
from app.services.tenancy import checked_workspace_id, owned_by

PAGE_SIZE = 50


@dataclass(frozen=True)
class Actor:
    """Who is acting: a signed-in user, or the system (user_id None)."""

    user_id: int | None
    email: str
    ip: str = ""


SYSTEM = Actor(user_id=None, email="system")


async def record(
    redis: Redis,
    workspace_id: int,
    actor: Actor,
    action: str,
    target_type: str = "",
    target_id: object = "",
    details: dict[str, Any] | None = None,
) -> dict[str, Any]:
    row = {
        "workspace_id": checked_workspace_id(workspace_id),
        "user_id": actor.user_id,
        "actor": actor.email,
        "action": action,
        "target_type": target_type,
        "target_id": str(target_id),
        "ip": actor.ip,
        "details": details or {},
        "created_at": datetime.now(UTC),
    }
    inserted = await AuditEntry.insert(AuditEntry(**row)).returning(AuditEntry.id)
    row["id"] = inserted[0]["id"]
    await activity.publish(redis, workspace_id, {k: v for k, v in row.items() if k != "ip"})
    return row


async def recent_entries(workspace_id: int, before_id: int | None = None, limit: int = PAGE_SIZE) -> list[dict]:
    """Newest first, keyset-paginated on id."""
    query = AuditEntry.select().where(owned_by(AuditEntry, workspace_id))
    if before_id is not None:
        query = query.where(AuditEntry.id < before_id)
    return await query.order_by(AuditEntry.id, ascending=False).limit(limit).output(load_json=True)
