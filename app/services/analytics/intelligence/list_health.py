"""Each list's health: inactive share (from the newest engagement snapshot), bounce and complaint shares (from
its counters) and growth over 30 days (`list_daily_stats`). Nothing here counts subscribers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from app.services.sqlparams import Params, fetch
from app.services.tenancy import checked_workspace_id

GROWTH_DAYS = 30


@dataclass(frozen=True)
class ListHealth:
    list_id: int
    name: str
    total: int
    mailable: int
    bounced: int
    complained: int
    inactive: int | None  # None before the first snapshot
    snapshot_subscribers: int
    joined: int
    left: int

    @property
    def inactive_share(self) -> float | None:
        if self.inactive is None or not self.snapshot_subscribers:
            return None
        return self.inactive / self.snapshot_subscribers

    @property
    def bounce_share(self) -> float:
        return self.bounced / self.total if self.total else 0.0

    @property
    def complaint_share(self) -> float:
        return self.complained / self.total if self.total else 0.0

    @property
    def growth(self) -> int:
        return self.joined - self.left

    @property
    def growth_share(self) -> float | None:
        """Net growth against the size the list had 30 days ago."""
        before = self.total - self.growth
        return self.growth / before if before > 0 else None


async def lists_health(workspace_id: int, today: date) -> list[ListHealth]:
    params = Params()
    workspace = params.add(checked_workspace_id(workspace_id))
    since = params.add(today - timedelta(days=GROWTH_DAYS - 1))
    rows = await fetch(
        "SELECT l.id AS list_id, l.name, coalesce(c.total, 0) AS total, coalesce(c.confirmed, 0) AS mailable, "
        "coalesce(c.bounced, 0) AS bounced, coalesce(c.complained, 0) AS complained, "
        "snap.inactive, coalesce(snap.subscribers, 0) AS snapshot_subscribers, "
        "coalesce(g.joined, 0) AS joined, coalesce(g.left_list, 0) AS left "
        "FROM lists l LEFT JOIN list_counters c ON c.list_id = l.id "
        "LEFT JOIN LATERAL (SELECT sum(e.inactive)::bigint AS inactive, sum(e.subscribers)::bigint AS subscribers "
        "FROM engagement_snapshots e WHERE e.workspace_id = l.workspace_id AND e.list_id = l.id "
        "AND e.day = (SELECT max(day) FROM engagement_snapshots WHERE workspace_id = l.workspace_id)) snap ON true "
        "LEFT JOIN LATERAL (SELECT sum(d.joined)::bigint AS joined, sum(d.left_list)::bigint AS left_list "
        f"FROM list_daily_stats d WHERE d.list_id = l.id AND d.workspace_id = l.workspace_id AND d.day >= {since}) g "
        f"ON true WHERE l.workspace_id = {workspace} ORDER BY l.name, l.id", params)
    return [ListHealth(**row) for row in rows]
