"""Bulk actions on a selection of subscribers or on everyone matching a filter, each one statement."""

from __future__ import annotations

from app.db.audience import Subscriber
from app.services.lists import get_list
from app.services.subscribers import SubscriberError, SubscriberFilter, change_status, ensure_tag, filter_sql

ACTIONS = ("tag", "untag", "move", "copy", "unsubscribe", "delete")


async def tag(workspace_id: int, chosen: SubscriberFilter, name: str) -> int:
    tag_id = await ensure_tag(workspace_id, name)
    where = filter_sql(workspace_id, chosen)
    rows = await Subscriber.raw(
        "WITH added AS (INSERT INTO subscriber_tags (workspace_id, tag_id, subscriber_id) "
        f"SELECT s.workspace_id, {{}}, s.id FROM subscribers s WHERE {where.sql} "
        "ON CONFLICT DO NOTHING RETURNING 1) SELECT count(*) AS n FROM added",
        tag_id, *where.params,
    )
    return int(rows[0]["n"])


async def untag(workspace_id: int, chosen: SubscriberFilter, name: str) -> int:
    where = filter_sql(workspace_id, chosen)
    rows = await Subscriber.raw(
        "WITH removed AS (DELETE FROM subscriber_tags st USING tags t WHERE st.tag_id = t.id "
        "AND t.workspace_id = {} AND t.name = {} "
        f"AND st.subscriber_id IN (SELECT s.id FROM subscribers s WHERE {where.sql}) RETURNING 1) "
        "SELECT count(*) AS n FROM removed",
        workspace_id, name.strip(), *where.params,
    )
    return int(rows[0]["n"])


async def _target_list(workspace_id: int, list_id: int) -> int:
    if await get_list(workspace_id, list_id) is None:
        raise SubscriberError({"target_list": "Choose a list of this workspace."})
    return list_id


async def copy_to_list(workspace_id: int, chosen: SubscriberFilter, list_id: int) -> int:
    """Copies keep status and fields; addresses already on the target list are left as they are."""
    target = await _target_list(workspace_id, list_id)
    where = filter_sql(workspace_id, chosen)
    rows = await Subscriber.raw(
        "WITH copied AS (INSERT INTO subscribers (workspace_id, list_id, email, email_domain, status, fields, "
        "source, ip, engagement_score, last_open_at, last_click_at, confirmed_at, unsubscribed_at) "
        "SELECT s.workspace_id, {}, s.email, s.email_domain, s.status, s.fields, 'copy', s.ip, s.engagement_score, "
        f"s.last_open_at, s.last_click_at, s.confirmed_at, s.unsubscribed_at FROM subscribers s WHERE {where.sql} "
        "ON CONFLICT (list_id, email) DO NOTHING RETURNING 1) SELECT count(*) AS n FROM copied",
        target, *where.params,
    )
    return int(rows[0]["n"])


async def move_to_list(workspace_id: int, chosen: SubscriberFilter, list_id: int) -> int:
    """Copy, then remove the originals that made it across (duplicates stay where they were)."""
    target = await _target_list(workspace_id, list_id)
    where = filter_sql(workspace_id, chosen)
    async with Subscriber._meta.db.transaction():
        await copy_to_list(workspace_id, chosen, target)
        rows = await Subscriber.raw(
            "WITH moved AS (DELETE FROM subscribers s "
            f"WHERE {where.sql} AND s.list_id <> {{}} AND EXISTS (SELECT 1 FROM subscribers t "
            "WHERE t.list_id = {} AND t.email = s.email) RETURNING 1) SELECT count(*) AS n FROM moved",
            *where.params, target, target,
        )
    return int(rows[0]["n"])


async def unsubscribe(workspace_id: int, chosen: SubscriberFilter, source: str) -> int:
    return await change_status(workspace_id, chosen, "unsubscribed", source)


async def delete(workspace_id: int, chosen: SubscriberFilter) -> int:
    where = filter_sql(workspace_id, chosen)
    rows = await Subscriber.raw(
        f"WITH gone AS (DELETE FROM subscribers s WHERE {where.sql} RETURNING 1) SELECT count(*) AS n FROM gone",
        *where.params,
    )
    return int(rows[0]["n"])
