"""The engagement score distribution and how it moves, from daily snapshots (`engagement_snapshots`).

The snapshot job counts each list's confirmed subscribers per score band once a day, after the scores'
daily decay; the page reads only snapshots, so it never counts subscribers. Inactive means on the list for
`INACTIVE_DAYS` or more without an open or click in that time: someone who joined last week has not had the
time to be called that.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from app.piccolo_conf import DB
from app.services.sqlparams import Params, fetch, fetch_positional
from app.services.tenancy import checked_workspace_id

BANDS = tuple(range(11))
INACTIVE_DAYS = 180
TREND_DAYS = 30
# Band 0 is a score of 0; band n holds scores from 10n - 9 to 10n.
BAND_SQL = "CASE WHEN s.engagement_score <= 0 THEN 0 ELSE least((s.engagement_score + 9) / 10, 10) END"


def band_label(band: int) -> str:
    return "0" if band == 0 else f"{band * 10 - 9} to {band * 10}"


async def snapshot(workspace_id: int, day: date, now: datetime) -> int:
    """The day's counts per list and band (written again when run twice a day); returns the rows written."""
    workspace_id = checked_workspace_id(workspace_id)
    params = Params()
    workspace, on = params.add(workspace_id), params.add(day)
    quiet_since = params.add(now - timedelta(days=INACTIVE_DAYS))
    async with DB.transaction():
        await fetch_positional("DELETE FROM engagement_snapshots WHERE workspace_id = $1 AND day = $2",
                               (workspace_id, day))
        rows = await fetch(
            "INSERT INTO engagement_snapshots (workspace_id, day, list_id, band, subscribers, score_sum, inactive) "
            f"SELECT {workspace}, {on}, s.list_id, {BAND_SQL}, count(*), sum(s.engagement_score), "
            f"count(*) FILTER (WHERE s.created_at < {quiet_since}::timestamptz "
            f"AND coalesce(greatest(s.last_open_at, s.last_click_at), '-infinity') < {quiet_since}::timestamptz) "
            f"FROM subscribers s WHERE s.workspace_id = {workspace} AND s.status = 'confirmed' GROUP BY 3, 4 "
            "RETURNING 1", params)
    return len(rows)


@dataclass(frozen=True)
class Band:
    band: int
    label: str
    subscribers: int
    share: float
    share_before: float | None  # the share a week before, when there was a snapshot then

    @property
    def change(self) -> float | None:
        return None if self.share_before is None else self.share - self.share_before


@dataclass(frozen=True)
class Distribution:
    day: date
    compared_with: date | None
    bands: list[Band]
    subscribers: int
    mean: float
    mean_before: float | None
    trend: list[tuple[date, float]]  # the mean score per snapshot day, oldest first


async def _days(workspace_id: int, day: date | None = None) -> list[dict]:
    """Totals per band of the newest snapshot (on or before `day`)."""
    params = Params()
    workspace = params.add(checked_workspace_id(workspace_id))
    on_or_before = f"AND day <= {params.add(day)}" if day else ""
    return await fetch(
        f"SELECT day, band, sum(subscribers)::bigint AS subscribers, sum(score_sum)::bigint AS score_sum "
        f"FROM engagement_snapshots WHERE workspace_id = {workspace} AND day = (SELECT max(day) FROM "
        f"engagement_snapshots WHERE workspace_id = {workspace} {on_or_before}) GROUP BY day, band", params)


def _mean(rows: list[dict]) -> float:
    people = sum(row["subscribers"] for row in rows)
    return sum(row["score_sum"] for row in rows) / people if people else 0.0


async def distribution(workspace_id: int) -> Distribution | None:
    """The newest snapshot's bands, each share against a week before; None before the first snapshot."""
    rows = await _days(workspace_id)
    if not rows:
        return None
    day = rows[0]["day"]
    before = await _days(workspace_id, day - timedelta(days=7))
    total = sum(row["subscribers"] for row in rows)
    total_before = sum(row["subscribers"] for row in before)
    counts = {row["band"]: row["subscribers"] for row in rows}
    counts_before = {row["band"]: row["subscribers"] for row in before}
    bands = [Band(band, band_label(band), counts.get(band, 0), counts.get(band, 0) / total if total else 0.0,
                  counts_before.get(band, 0) / total_before if total_before else None) for band in BANDS]
    return Distribution(day, before[0]["day"] if before else None, bands, total, _mean(rows),
                        _mean(before) if before else None, await trend(workspace_id, day))


async def trend(workspace_id: int, until: date) -> list[tuple[date, float]]:
    params = Params()
    rows = await fetch(
        "SELECT day, sum(score_sum)::float8 / nullif(sum(subscribers), 0) AS mean FROM engagement_snapshots "
        f"WHERE workspace_id = {params.add(checked_workspace_id(workspace_id))} "
        f"AND day > {params.add(until - timedelta(days=TREND_DAYS))} AND day <= {params.add(until)} "
        "GROUP BY day ORDER BY day", params)
    return [(row["day"], row["mean"] or 0.0) for row in rows]
