"""Who a campaign goes to: its lists and segments, minus its exclusions (segments, and everyone sent a campaign
in the last N days), minus everyone not mailable.

Every source becomes one-list definitions for `segments.matching_ids_query`,
whose one-list form is a plain `SELECT s.id FROM subscribers s WHERE ...`
with the mailable filter (statuses, every suppression list, the blacklist)
inside. Their UNION ALL is the audience; a person on several lists appears in
several arms, and the deliveries' unique (campaign, email) keeps one of them.
A range condition on the union's ids reaches every arm, where the
(list_id, status, id) index serves it: that is what lets materialisation walk
the audience in chunks of subscriber ids without reading it all per chunk.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from app.db.audience import MailingList
from app.db.segments import Segment
from app.services import segments
from app.services.sqlparams import Params, fetch
from app.services.suppression import MAILABLE_STATUSES
from app.services.tenancy import checked_workspace_id, owned_by


@dataclass(frozen=True)
class Audience:
    list_ids: tuple[int, ...] = ()
    segment_ids: tuple[int, ...] = ()
    exclusion_segment_ids: tuple[int, ...] = ()
    # Leave out everyone the workspace sent a campaign to in this many days (None: nobody).
    exclude_recent_days: int | None = None

    @classmethod
    def of(cls, campaign: Mapping[str, Any]) -> Audience:
        return cls(tuple(campaign["list_ids"] or ()), tuple(campaign["segment_ids"] or ()),
                   tuple(campaign["exclusion_segment_ids"] or ()), campaign.get("exclude_recent_days"))

    @property
    def empty(self) -> bool:
        return not (self.list_ids or self.segment_ids)


async def _segment(workspace_id: int, segment_id: int) -> dict:
    found = await segments.get_segment(workspace_id, segment_id)
    if found is None:
        raise LookupError(f"segment {segment_id}")
    return found


async def one_list_definitions(workspace_id: int, audience: Audience) -> list[dict]:
    """The audience as (one list, conditions) definitions; a segment over a list sent whole adds nothing."""
    whole = set(audience.list_ids)
    definitions = [{"list_ids": [list_id], "conditions": None} for list_id in sorted(whole)]
    for segment_id in audience.segment_ids:
        segment = await _segment(workspace_id, segment_id)
        context = await segments.load_context(workspace_id, segments.chosen_list_ids(segment["list_ids"]))
        definitions += [{"list_ids": [list_id], "conditions": segment["conditions"]}
                        for list_id in context.list_ids if list_id not in whole]
    return definitions


async def union_sql(workspace_id: int, definitions: list[dict], params: Params) -> str:
    """`SELECT s.id ... UNION ALL SELECT s.id ...` over the definitions, parameters added to `params`."""
    arms = [(await segments.matching_ids_query(workspace_id, definition, params))[0] for definition in definitions]
    return " UNION ALL ".join(arms)


async def exclusion_sql(workspace_id: int, audience: Audience, params: Params) -> str:
    """` AND NOT EXISTS (...)` dropping every address an exclusion segment matches (mailable or not), and
    every address sent a campaign of the workspace in the last `exclude_recent_days`; or ""."""
    return await _segments_exclusion(workspace_id, audience, params) + recent_exclusion(workspace_id, audience,
                                                                                         params)


def recent_exclusion(workspace_id: int, audience: Audience, params: Params) -> str:
    """` AND NOT EXISTS (...)` dropping addresses a campaign of the workspace was sent to in the last N days."""
    if not audience.exclude_recent_days:
        return ""
    workspace = params.add(checked_workspace_id(workspace_id))
    days = params.add(audience.exclude_recent_days)
    return (f" AND NOT EXISTS (SELECT 1 FROM deliveries rd WHERE rd.workspace_id = {workspace} "
            f"AND rd.email = s.email AND rd.status = 'sent' "
            f"AND rd.sent_at >= now() - make_interval(days => {days}::integer))")


async def _segments_exclusion(workspace_id: int, audience: Audience, params: Params) -> str:
    if not audience.exclusion_segment_ids:
        return ""
    arms = []
    for segment_id in audience.exclusion_segment_ids:
        segment = await _segment(workspace_id, segment_id)
        arms.append((await segments.matching_ids_query(workspace_id, segment, params, mailable=False))[0])
    workspace = params.add(checked_workspace_id(workspace_id))
    # The union does not depend on the row, so PostgreSQL hashes it once per statement.
    return (f" AND NOT EXISTS (SELECT 1 FROM subscribers xs WHERE xs.workspace_id = {workspace} "
            f"AND xs.email = s.email AND xs.id IN ({' UNION ALL '.join(arms)}))")


async def recipient_count(workspace_id: int, audience: Audience) -> int:
    """Distinct mailable addresses the campaign would go to now, after exclusions and suppression."""
    definitions = await one_list_definitions(workspace_id, audience)
    if not definitions:
        return 0
    params = Params()
    union = await union_sql(workspace_id, definitions, params)
    excluded = await exclusion_sql(workspace_id, audience, params)
    rows = await fetch(f"SELECT count(DISTINCT s.email) AS n FROM subscribers s WHERE s.id IN ({union}){excluded}",
                       params)
    return int(rows[0]["n"])


async def id_bounds(workspace_id: int, definitions: list[dict]) -> tuple[int, int] | None:
    """The lowest and highest id of a mailable subscriber on the audience's lists (None when there is none).

    One (list, status) pair at a time, so each is two probes of the (list_id, status, id) index.
    """
    low: int | None = None
    high: int | None = None
    for list_id in {definition["list_ids"][0] for definition in definitions}:
        for status in MAILABLE_STATUSES:
            params = Params()
            workspace = params.add(checked_workspace_id(workspace_id))
            rows = await fetch(
                f"SELECT min(id) AS low, max(id) AS high FROM subscribers WHERE list_id = {params.add(list_id)} "
                f"AND status = {params.add(status)} AND workspace_id = {workspace}", params)
            if rows[0]["low"] is not None:
                low = rows[0]["low"] if low is None else min(low, rows[0]["low"])
                high = rows[0]["high"] if high is None else max(high, rows[0]["high"])
    return None if low is None or high is None else (low, high)


async def checked_audience(workspace_id: int, list_ids: list[int], segment_ids: list[int],
                           exclusion_ids: list[int], exclude_recent_days: int | None = None) -> Audience:
    """The ids, each held to the workspace: one of another workspace is a LookupError (404)."""
    for table, ids in ((MailingList, list_ids), (Segment, [*segment_ids, *exclusion_ids])):
        if not ids:
            continue
        found = {row["id"] for row in await table.select(table._meta.primary_key).where(
            owned_by(table, workspace_id), table._meta.primary_key.is_in(ids))}
        if missing := set(ids) - found:
            raise LookupError(f"{table._meta.tablename} {min(missing)}")
    return Audience(tuple(sorted(set(list_ids))), tuple(sorted(set(segment_ids))), tuple(sorted(set(exclusion_ids))),
                    exclude_recent_days)
