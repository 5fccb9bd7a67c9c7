"""Reconciling Everflow's conversion records with the postbacks Ignite recorded, by transaction id and event.

Each pull reconciles its window (app/services/sql/everflow.sql `reconcile`) into a list to act on: a
conversion Everflow has and Ignite missed, one Ignite counted and Everflow does not have, one Everflow
scrubbed or rejected after Ignite counted it, one whose payout (or currency) is not what Ignite counted.
A row stays open until someone records the missing conversion in Ignite (through the postback's own
recording, so every figure follows), dismisses it, or a later pull finds the two sides agree.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from redis.asyncio import Redis

from app.db.everflow import EverflowConversion, EverflowRecord
from app.services import statements
from app.services.accounts import now
from app.services.analytics.periods import Period
from app.services.csv_files import CsvRows
from app.services.forms import FormError
from app.services.tenancy import fetch_owned, owned_by
from app.services.tracking.conversions import NETWORK_SUB_IDS, PostbackRefused, record_conversion
from app.services.tracking.offers import workspace_settings

KINDS = {
    "missing_in_ignite": "Missing in Ignite",
    "missing_in_everflow": "Missing in Everflow",
    "scrubbed": "Scrubbed",
    "payout_changed": "Payout changed",
    "rejected": "Rejected",
}
STATES = {"open": "To act on", "dismissed": "Dismissed", "recorded": "Recorded in Ignite",
          "resolved": "Agree now", "": "All"}
# A postback follows Everflow's record by moments, at worst minutes: a conversion seen on one side only is
# not called missing until this long after it.
GRACE = timedelta(minutes=30)
PAGE_SIZE = 50
EXPORT_BATCH = 1000
CSV_HEADER = ("kind", "state", "transaction_id", "event", "converted_at", "everflow_status", "everflow_payout",
              "everflow_currency", "ignite_revenue", "ignite_currency", "offer_id", "everflow_conversion_id",
              "note")


@dataclass(frozen=True)
class Filters:
    period: Period
    state: str = "open"
    kind: str = ""

    def query(self) -> str:
        return f"{self.period.query()}&state={self.state}&kind={self.kind}"


@dataclass(frozen=True)
class RecordPage:
    records: list[dict[str, Any]]
    next_after: str


def filters_from(period: Period, state: str, kind: str) -> Filters:
    """The list's filters; FormError naming the field for a state or kind that is not one."""
    if state not in STATES:
        raise FormError({"state": "Choose one of the listed states."})
    if kind and kind not in KINDS:
        raise FormError({"kind": "Choose one of the listed kinds."})
    return Filters(period, state, kind)


async def reconcile(workspace_id: int, since: datetime, until: datetime) -> int:
    """Reconciles conversions of [since, until), one seen on one side only once it is older than GRACE; how many
    disagree."""
    [row] = await statements.run("everflow.reconcile", workspace_id, since, until, max(since, until - GRACE))
    return row["disagreeing"]


async def open_counts(workspace_id: int) -> dict[str, int]:
    """Open rows per kind, every kind named (0 where none)."""
    rows = await statements.run("everflow.counts", workspace_id, "open")
    return {kind: 0 for kind in KINDS} | {row["kind"]: row["rows"] for row in rows}


def _cursor(record: dict[str, Any]) -> str:
    return f"{record['converted_at'].isoformat()}_{record['id']}"


def _after(cursor: str) -> tuple[datetime | None, int | None]:
    moment, _, record_id = cursor.rpartition("_")
    try:
        return datetime.fromisoformat(moment), int(record_id)
    except ValueError:
        return None, None


async def records_page(workspace_id: int, filters: Filters, after: str = "",
                       limit: int = PAGE_SIZE) -> RecordPage:
    """The filtered rows, newest first, `limit` at a time; the next page starts after `next_after`."""
    moment, record_id = _after(after) if after else (None, None)
    rows = await statements.run("everflow.page", workspace_id, filters.state, filters.kind, filters.period.start,
                                filters.period.end, moment, record_id, limit + 1)
    return RecordPage(rows[:limit], _cursor(rows[limit - 1]) if len(rows) > limit else "")


async def export_csv(workspace_id: int, filters: Filters) -> AsyncIterator[bytes]:
    """The filtered rows as CSV through the one CSV writer, fetched page by page so memory stays flat."""
    rows = CsvRows(CSV_HEADER)
    yield rows.header()
    after = ""
    while True:
        page = await records_page(workspace_id, filters, after, limit=EXPORT_BATCH)
        yield rows.encode((row["kind"], row["state"], row["transaction_id"], row["event_name"],
                           row["converted_at"].isoformat(), row["everflow_status"], row["everflow_payout"],
                           row["everflow_currency"], row["ignite_revenue"], row["ignite_currency"],
                           row["offer_id"] or "", row["everflow_conversion_id"] or "", row["state_note"])
                          for row in page.records)
        if not page.next_after:
            return
        after = page.next_after


async def _open_record(workspace_id: int, record_id: int) -> dict[str, Any]:
    record = await fetch_owned(EverflowRecord, workspace_id, record_id)
    if record is None:
        raise LookupError(f"reconciliation record {record_id}")
    if record["state"] != "open":
        raise FormError(f"This row is already {STATES[record['state']].lower()}.")
    return record


async def _settle(workspace_id: int, record_id: int, state: str, note: str, conversion_id: int | None = None) -> None:
    values: dict[Any, Any] = {EverflowRecord.state: state, EverflowRecord.state_note: note,
                              EverflowRecord.updated_at: now()}
    if conversion_id is not None:
        values[EverflowRecord.conversion_id] = conversion_id
    await EverflowRecord.update(values).where(owned_by(EverflowRecord, workspace_id), EverflowRecord.id == record_id)


async def dismiss(workspace_id: int, record_id: int, who: str) -> None:
    """Takes an open row off the list; LookupError for another workspace's, FormError for one already settled."""
    await _open_record(workspace_id, record_id)
    await _settle(workspace_id, record_id, "dismissed", f"Dismissed by {who}.")


async def record_in_ignite(redis: Redis, workspace_id: int, record_id: int, who: str) -> int:
    """Records a conversion missing in Ignite as its postback would have; the conversion's id. FormError with
    the postback's own reason when it cannot be recorded (its delivery is unknown, another currency...)."""
    record = await _open_record(workspace_id, record_id)
    if record["kind"] != "missing_in_ignite" or record["everflow_id"] is None:
        raise FormError("Only a conversion missing in Ignite can be recorded in it.")
    pulled = await EverflowConversion.select().where(owned_by(EverflowConversion, workspace_id),
                                                     EverflowConversion.id == record["everflow_id"]).first()
    params = {"transaction_id": pulled["transaction_id"], "event": pulled["event_name"],
              "offer_id": pulled["offer_id"], "payout": str(pulled["payout"]), "currency": pulled["currency"],
              **{name: pulled[name] for name in NETWORK_SUB_IDS if pulled[name]}}
    settings = {**await workspace_settings(workspace_id), "workspace_id": workspace_id}
    try:
        recorded = await record_conversion(redis, settings, params, "everflow")
    except PostbackRefused as refused:
        raise FormError(refused.message) from refused
    await _settle(workspace_id, record_id, "recorded", f"Recorded in Ignite by {who}.", recorded.conversion_id)
    return recorded.conversion_id
