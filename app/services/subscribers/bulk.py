"""Many subscribers of one list upserted in one call (the API's bulk endpoint), the way an import loads a batch.

Each row is validated by the import's row builder (same address rules, same field typing), the valid rows are
COPied into the import's staging table, suppressed addresses are dropped by the import's own statement, and
one statement adds the new subscribers and merges the fields of those already on the list. As with an import
in add-and-update mode, an existing subscriber's status is left alone: a bulk upsert never re-subscribes
someone who left. Every row gets a result, in the order sent.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from app.piccolo_conf import DB
from app.services.automations import triggers as flow_triggers
from app.services.custom_fields import fields_of
from app.services.imports.loading import STAGING, SUPPRESSED, zone_names
from app.services.imports.rows import Rejected, RowBuilder, defaults_json
from app.services.lists import get_list
from app.services.subscribers.records import SubscriberError, checked_status
from app.services.webhooks import producers as webhook_events
from app.services.webhooks import publish_many

MAX_ROWS = 10_000
ZONE = "LEFT JOIN unnest($5::text[]) z(name) ON z.name = {fields} ->> 'timezone'"
UPSERT = f"""
WITH existing AS (
    SELECT s.id, s.email, s.fields FROM subscribers s JOIN import_batch b ON b.email = s.email
    WHERE s.workspace_id = $1 AND s.list_id = $2
    ORDER BY s.id FOR UPDATE OF s
), changed AS (
    UPDATE subscribers s SET fields = s.fields || b.fields, timezone = coalesce(z.name, s.timezone), updated_at = now()
    FROM existing x JOIN import_batch b ON b.email = x.email {ZONE.format(fields="b.fields")}
    WHERE s.id = x.id AND x.fields <> x.fields || b.fields
    RETURNING s.id
), added AS (
    INSERT INTO subscribers (workspace_id, list_id, email, email_domain, status, fields, source, confirmed_at,
                             timezone)
    SELECT $1, $2, b.email, b.domain, $3::varchar, $4::jsonb || b.fields, 'api',
           CASE WHEN $3::varchar = 'confirmed' THEN now() END, coalesce(z.name, '')
    FROM import_batch b {ZONE.format(fields="($4::jsonb || b.fields)")}
    WHERE NOT EXISTS (SELECT 1 FROM existing x WHERE x.email = b.email)
    ON CONFLICT (list_id, email) DO NOTHING
    RETURNING id, email
), history AS (
    INSERT INTO subscriber_status_changes (workspace_id, subscriber_id, from_status, to_status, source)
    SELECT $1, id, '', $3::varchar, 'api' FROM added
)
SELECT a.email, a.id, 'created' AS outcome FROM added a
UNION ALL
SELECT x.email, x.id, CASE WHEN c.id IS NULL THEN 'unchanged' ELSE 'updated' END FROM existing x
LEFT JOIN changed c ON c.id = x.id
"""


@dataclass(frozen=True)
class RowResult:
    """What became of one row: an `outcome` (created, updated, unchanged) and the id, or an error `code`."""

    index: int
    email: str
    outcome: str = ""
    id: int | None = None
    code: str = ""
    message: str = ""


def cell_text(value: Any) -> str | None:
    """A JSON value as the text a file's cell would hold; None for what no field can hold (lists, objects, NUL)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | str):
        text = str(value)
        return None if "\x00" in text else text  # PostgreSQL text cannot hold NUL
    return None


def _record(builder_tags: list[str], email: str, values: dict[str, Any]) -> list[str] | str:
    """The row as a file record (email first, then the list's fields in order), or what is wrong with it."""
    unknown = sorted(set(values) - set(builder_tags))
    if unknown:
        return f"no such field on this list: {', '.join(unknown)}"
    cells = [email]
    for tag in builder_tags:
        text = cell_text(values.get(tag))
        if text is None:
            return f"{tag} must be a string, number or boolean"
        cells.append(text)
    return cells


def _staged(rows: Sequence[tuple[str, dict[str, Any]]], fields: list[dict]
            ) -> tuple[list[tuple[int, str, str, str]], dict[int, RowResult]]:
    """(staging records, refusals by row index): the import's validation, and the first of each address wins."""
    tags = [field["tag"] for field in fields]
    builder = RowBuilder({"email": 0, "fields": {tag: index + 1 for index, tag in enumerate(tags)}}, fields)
    staged: list[tuple[int, str, str, str]] = []
    refused: dict[int, RowResult] = {}
    seen: set[str] = set()
    for index, (email, values) in enumerate(rows):
        record = _record(tags, str(email), values)
        built = builder.build(record) if isinstance(record, list) else Rejected(record)
        if isinstance(built, Rejected):
            refused[index] = RowResult(index, str(email), code="invalid", message=str(built))
        elif built[0] in seen:
            refused[index] = RowResult(index, built[0], code="duplicate_in_request",
                                       message="The same address came earlier in this request; that row counts.")
        else:
            seen.add(built[0])
            staged.append((index, *built))
    return staged, refused


async def _announce_added(workspace_id: int, list_id: int, status: str, written: Iterable[Mapping[str, Any]]) -> None:
    """Webhook events for the subscribers added, as adding one by hand publishes them (nothing when no endpoint
    of the workspace listens)."""
    kind = webhook_events.STATUS_EVENTS.get(status)
    if kind is None:
        return
    await publish_many(workspace_id, [
        (kind, webhook_events.subscriber_payload({**row, "list_id": list_id, "status": status, "source": "api"}))
        for row in written if row["outcome"] == "created"])


async def upsert_many(workspace_id: int, list_id: int, rows: Sequence[tuple[str, dict[str, Any]]],
                      status: str = "confirmed") -> list[RowResult]:
    """Add or update each (email, fields by tag) row on the list; new subscribers get `status`."""
    mailing_list = await get_list(workspace_id, list_id)
    if mailing_list is None:
        raise LookupError("list")
    checked_status(status)
    if len(rows) > MAX_ROWS:
        raise SubscriberError({"subscribers": f"Send at most {MAX_ROWS:,} subscribers per call."})
    fields = await fields_of(workspace_id, list_id)
    staged, results = _staged(rows, fields)
    if staged:
        async with DB.transaction():
            connection = DB.current_transaction.get().connection
            await connection.execute(STAGING)
            await connection.copy_records_to_table("import_batch", records=staged,
                                                   columns=("row_number", "email", "domain", "fields"))
            for hit in await connection.fetch(SUPPRESSED, workspace_id):
                results[hit["row_number"]] = RowResult(hit["row_number"], hit["email"], code="address_suppressed",
                                                       message=f"The address is on {hit['name']}.")
            written = {row["email"]: row for row in await connection.fetch(
                UPSERT, workspace_id, list_id, status, defaults_json(fields), zone_names())}
            await _announce_added(workspace_id, list_id, status, written.values())
            await flow_triggers.subscribers_added(workspace_id, list_id, status, [
                row["id"] for row in written.values() if row["outcome"] == "created"])
        for index, email, _domain, _fields in staged:
            if index in results:
                continue
            row = written.get(email)
            results[index] = RowResult(index, email, row["outcome"], row["id"]) if row else RowResult(
                index, email, code="conflict", message="The address was added at the same moment; send it again.")
    return [results[index] for index in range(len(rows))]



def form_fields(tags: Sequence[str], values: dict[str, Any]) -> dict[str, str]:
    """Typed JSON values by merge tag as the subscriber form posts them (`field_<tag>`); SubscriberError names
    a tag the list does not have and a value no field can hold."""
    problems = {f"field_{tag}": "No such field on this list." for tag in values if tag not in tags}
    form: dict[str, str] = {}
    for tag, value in values.items():
        text = cell_text(value)
        if text is None:
            problems[f"field_{tag}"] = "Give a string, number or boolean."
        else:
            form[f"field_{tag}"] = text
    if problems:
        raise SubscriberError(problems)
    return form
