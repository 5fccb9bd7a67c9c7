"""Writing a batch: COPY into a temporary staging table, then one set-based statement for the import's mode.

Each batch commits in one transaction together with the counters and the
cursor on the import row, so what the row says was imported is exactly what
is in the database, and a resumed import starts right after it.
"""

from __future__ import annotations

import json
import zoneinfo
from dataclasses import astuple, dataclass
from functools import cache
from typing import Any

import asyncpg

from app.services.imports.batches import Batch, Cursor
from app.services.imports.errors import ImportSuperseded
from app.services.imports.formats import text_of

STAGING = """
CREATE TEMP TABLE IF NOT EXISTS import_batch (
    row_number bigint NOT NULL, email text NOT NULL, domain text NOT NULL, fields jsonb NOT NULL
) ON COMMIT DELETE ROWS
"""
# A `timezone` field fills the subscriber's time zone (for sending at their local time) when it names a
# zone of the tz database ($6, every such name): joined, so a batch costs one hash lookup per row.
ZONE_JOIN = "LEFT JOIN unnest($6::text[]) z(name) ON z.name = ($4::jsonb || b.fields) ->> 'timezone'"
NEW_SUBSCRIBER = """
INSERT INTO subscribers (workspace_id, list_id, email, email_domain, status, fields, source, import_id, confirmed_at,
                         timezone)
SELECT $1, $2, b.email, b.domain, $3::varchar, $4::jsonb || b.fields, 'import', $5,
       CASE WHEN $3::varchar = 'confirmed' THEN now() END, coalesce(z.name, '')
"""
ADD = NEW_SUBSCRIBER + f"FROM import_batch b {ZONE_JOIN} ON CONFLICT (list_id, email) DO NOTHING"
# Rows whose address this import already saw in an earlier batch are dropped by `firsts`: first occurrence wins.
ADD_UPDATE = """
WITH firsts AS (
    INSERT INTO {seen} (email) SELECT email FROM import_batch ON CONFLICT DO NOTHING RETURNING email
), fresh AS (
    SELECT b.* FROM import_batch b JOIN firsts f ON f.email = b.email
), before AS (
    SELECT s.id, s.fields FROM subscribers s JOIN fresh b ON s.email = b.email
    WHERE s.workspace_id = $1 AND s.list_id = $2 AND s.fields <> s.fields || b.fields
    FOR UPDATE OF s
), changed AS (
    UPDATE subscribers s SET fields = s.fields || b.fields, timezone = coalesce(z.name, s.timezone), updated_at = now()
    FROM before x JOIN fresh b ON true LEFT JOIN unnest($6::text[]) z(name) ON z.name = b.fields ->> 'timezone'
    WHERE s.id = x.id AND s.email = b.email
    RETURNING s.id, x.fields AS previous_fields
), kept AS (
    -- The value before this import, so a rollback can put it back (a resumed batch keeps the first).
    INSERT INTO import_field_changes (import_id, workspace_id, subscriber_id, previous_fields)
    SELECT $5, $1, id, previous_fields FROM changed ON CONFLICT DO NOTHING
), added AS (
""" + NEW_SUBSCRIBER + """
    FROM fresh b """ + ZONE_JOIN + """
    WHERE NOT EXISTS (SELECT 1 FROM subscribers s WHERE s.list_id = $2 AND s.email = b.email)
    ON CONFLICT (list_id, email) DO NOTHING
    RETURNING 1
)
SELECT (SELECT count(*) FROM added) AS inserted, (SELECT count(*) FROM changed) AS updated
"""
UNSUBSCRIBE = """
WITH firsts AS (
    INSERT INTO {seen} (email) SELECT email FROM import_batch ON CONFLICT DO NOTHING RETURNING email
), matched AS (
    SELECT s.id, s.status FROM subscribers s JOIN firsts f ON f.email = s.email
    WHERE s.workspace_id = $1 AND s.list_id = $2 AND s.status IN ('confirmed', 'unconfirmed')
    FOR UPDATE OF s
), changed AS (
    UPDATE subscribers s SET status = 'unsubscribed', unsubscribed_at = now(), updated_at = now()
    FROM matched m WHERE s.id = m.id
    RETURNING s.id
), history AS (
    INSERT INTO subscriber_status_changes (workspace_id, subscriber_id, from_status, to_status, source)
    SELECT $1, m.id, m.status, 'unsubscribed', $3 FROM matched m
)
SELECT (SELECT count(*) FROM firsts) AS firsts, (SELECT count(*) FROM changed) AS updated
"""
# suppression_lists.entry_count follows by trigger.
SUPPRESS = """
INSERT INTO suppression_entries (workspace_id, suppression_list_id, kind, value, reason)
SELECT $1, $2, 'email', b.email, $3 FROM import_batch b
ON CONFLICT (suppression_list_id, kind, value) DO NOTHING
"""
# Suppressed addresses never join a list: by address, domain, or the MD5/SHA-256 hashes affiliates send.
SUPPRESSED = """
WITH keys AS (
    SELECT row_number, email, 'email' AS kind, email AS value FROM import_batch
    UNION ALL SELECT row_number, email, 'domain', domain FROM import_batch
    UNION ALL SELECT row_number, email, 'md5', md5(email) FROM import_batch
    UNION ALL SELECT row_number, email, 'sha256', encode(sha256(convert_to(email, 'UTF8')), 'hex') FROM import_batch
), hits AS (
    SELECT DISTINCT ON (k.row_number) k.row_number, k.email, l.name
    FROM keys k
    JOIN suppression_entries e ON e.workspace_id = $1 AND e.kind = k.kind AND e.value = k.value
    JOIN suppression_lists l ON l.id = e.suppression_list_id
    ORDER BY k.row_number, l.is_blacklist DESC
), gone AS (
    DELETE FROM import_batch b USING hits h WHERE b.row_number = h.row_number
)
SELECT row_number, email, name FROM hits
"""
# The run token and row count the batch started from must still be the row's: no other run has moved it on.
LOCK = """
SELECT status FROM imports
WHERE id = $1 AND workspace_id = $2 AND options->'cursor'->>'run' = $3
  AND coalesce((options->'cursor'->>'row')::bigint, 0) = $4
FOR UPDATE
"""
PROGRESS = """
UPDATE imports SET processed_bytes = $3, rows_seen = $4, inserted = $5, updated = $6, skipped_duplicate = $7,
    invalid = $8, suppressed = $9, options = jsonb_set(options, '{cursor}', $10::jsonb)
WHERE id = $1 AND workspace_id = $2
"""


@cache
def zone_names() -> list[str]:
    """Every zone of the tz database by its IANA name (Europe/Berlin, UTC), for the `timezone` field."""
    return sorted(name for name in zoneinfo.available_timezones() if name not in ("Factory", "localtime"))


@dataclass
class Totals:
    rows_seen: int = 0
    inserted: int = 0
    updated: int = 0
    skipped_duplicate: int = 0
    invalid: int = 0
    suppressed: int = 0

    @classmethod
    def of(cls, row: dict[str, Any]) -> Totals:
        return cls(*(int(row[name]) for name in cls.__dataclass_fields__))


def seen_table(import_id: int) -> str:
    """Addresses an import has taken, for de-duplicating across batches where the list cannot tell (UNLOGGED:
    it only has to outlive a worker, and is dropped when the import completes or is rolled back)."""
    return f"import_seen_{int(import_id)}"


class Loader:
    def __init__(self, connection: asyncpg.Connection, row: dict[str, Any], defaults: str) -> None:
        self.db = connection
        self.id = int(row["id"])
        self.workspace_id = int(row["workspace_id"])
        self.list_id = row["list_id"]
        self.mode = row["mode"]
        self.status = row["options"].get("status", "confirmed")
        self.suppression_list_id = row["suppression_list_id"]
        self.defaults = defaults
        self.seen = seen_table(self.id)

    async def prepare(self, fresh: bool) -> None:
        await self.db.execute(STAGING)
        if fresh:
            await self.db.execute(f"DROP TABLE IF EXISTS {self.seen}")
        if self.mode in ("add_update", "unsubscribe"):
            await self.db.execute(f"CREATE UNLOGGED TABLE IF NOT EXISTS {self.seen} (email text PRIMARY KEY)")

    async def commit(self, batch: Batch, totals: Totals, since: Cursor) -> Totals:
        """Write one batch and the import's new totals and cursor atomically; returns the new totals."""
        new = Totals(totals.rows_seen + batch.rows_seen, totals.inserted, totals.updated,
                     totals.skipped_duplicate + batch.duplicates, totals.invalid, totals.suppressed)
        rejects = [(self.workspace_id, self.id, *reject) for reject in batch.rejects]
        new.invalid += len(rejects)
        async with self.db.transaction():
            status = await self.db.fetchval(LOCK, self.id, self.workspace_id, since.run, since.row)
            if status != "running":
                raise ImportSuperseded(f"import {self.id} is no longer this run's")
            staged = len(batch.rows)
            if staged:
                await self.db.copy_records_to_table(
                    "import_batch", records=batch.rows, columns=("row_number", "email", "domain", "fields"))
                staged -= await self._drop_suppressed(batch, rejects, new)
                await self._apply(staged, new)
            if rejects:
                await self.db.copy_records_to_table(
                    "import_rejects", records=rejects,
                    columns=("workspace_id", "import_id", "row_number", "email", "reason", "raw"))
            await self.db.execute(PROGRESS, self.id, self.workspace_id, batch.processed_bytes,
                                  *astuple(new), json.dumps(batch.cursor.as_json()))
        return new

    async def _drop_suppressed(self, batch: Batch, rejects: list[tuple], totals: Totals) -> int:
        if self.mode not in ("add", "add_update"):
            return 0
        if not await self.db.fetchval(
            "SELECT EXISTS (SELECT 1 FROM suppression_entries WHERE workspace_id = $1)", self.workspace_id
        ):
            return 0
        hits = await self.db.fetch(SUPPRESSED, self.workspace_id)
        for hit in hits:
            raw = text_of(batch.cells[hit["row_number"]], batch.delimiter)[:4000]
            rejects.append((self.workspace_id, self.id, hit["row_number"], hit["email"],
                            f"suppressed: on {hit['name']}"[:200], raw))
        totals.suppressed += len(hits)  # listed with the rejects, but counted apart from invalid rows
        return len(hits)

    async def _apply(self, staged: int, totals: Totals) -> None:
        if self.mode == "add":
            result = await self.db.execute(ADD, self.workspace_id, self.list_id, self.status, self.defaults, self.id,
                                           zone_names())
            inserted = int(result.rsplit(" ", 1)[1])
            totals.inserted += inserted
            totals.skipped_duplicate += staged - inserted
        elif self.mode == "add_update":
            row = await self.db.fetchrow(ADD_UPDATE.format(seen=self.seen), self.workspace_id, self.list_id,
                                         self.status, self.defaults, self.id, zone_names())
            totals.inserted += row["inserted"]
            totals.updated += row["updated"]
            totals.skipped_duplicate += staged - row["inserted"] - row["updated"]
        elif self.mode == "unsubscribe":
            row = await self.db.fetchrow(UNSUBSCRIBE.format(seen=self.seen), self.workspace_id, self.list_id,
                                         f"import:{self.id}")
            totals.updated += row["updated"]
            totals.skipped_duplicate += staged - row["firsts"]
        else:
            result = await self.db.execute(SUPPRESS, self.workspace_id, self.suppression_list_id,
                                           f"import #{self.id}")
            added = int(result.rsplit(" ", 1)[1])
            totals.suppressed += added
            totals.skipped_duplicate += staged - added
