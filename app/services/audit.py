"""The audit log: every state change, who made it, from where; also fed to the live activity feed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
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


@dataclass
class Change:
    """The audit entries of a change in progress; the change names them once it knows its target."""

    entries: list[tuple[str, str, object, dict[str, Any] | None]] = field(default_factory=list)

    def note(self, action: str, target_type: str = "", target_id: object = "",
             details: dict[str, Any] | None = None) -> None:
        self.entries.append((action, target_type, target_id, details))


@asynccontextmanager
async def change(redis: Redis, workspace_id: int, actor: Actor) -> AsyncIterator[Change]:
    """A state change and its audit entries in one transaction: both are stored, or neither.

    The activity feed hears of it only once committed, so it never shows a change that was rolled back.
    """
    noted = Change()
    async with AuditEntry._meta.db.transaction():
        yield noted
        rows = [await _stored(workspace_id, actor, *entry) for entry in noted.entries]
    for row in rows:
        await activity.publish(redis, workspace_id, {k: v for k, v in row.items() if k != "ip"})


async def record(
    redis: Redis,
    workspace_id: int,
    actor: Actor,
    action: str,
    target_type: str = "",
    target_id: object = "",
    details: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """An entry for something already done outside a transaction of ours (system events, sign-ins)."""
    row = await _stored(workspace_id, actor, action, target_type, target_id, details)
    await activity.publish(redis, workspace_id, {k: v for k, v in row.items() if k != "ip"})
    return row


async def _stored(workspace_id: int, actor: Actor, action: str, target_type: str, target_id: object,
                  details: dict[str, Any] | None) -> dict[str, Any]:
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
    return row


async def recent_entries(workspace_id: int, before_id: int | None = None, limit: int = PAGE_SIZE) -> list[dict]:
    """Newest first, keyset-paginated on id."""
    query = AuditEntry.select().where(owned_by(AuditEntry, workspace_id))
    if before_id is not None:
        query = query.where(AuditEntry.id < before_id)
    return await query.order_by(AuditEntry.id, ascending=False).limit(limit).output(load_json=True)
