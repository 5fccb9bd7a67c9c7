"""Segments and suppression: entry counts kept by triggers, and an index to browse and search entries."""

from app.db.migrating import sql_migration

ID = "2026-11-23T10:30:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "segments"

SQL = """
-- Entries are paged and prefix-searched by value; "C" ordering lets one btree serve LIKE 'abc%'
-- and the keyset ORDER BY whatever the database's collation is.
CREATE INDEX suppression_entries_browse_idx ON suppression_entries (suppression_list_id, value COLLATE "C", id);

-- entry_count follows every insert and delete, whoever makes it (the UI, the API, suppression imports),
-- so list pages never count millions of entries.
CREATE FUNCTION suppression_entry_count_after_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE suppression_lists l SET entry_count = l.entry_count + n.added
    FROM (SELECT suppression_list_id, count(*) AS added FROM new_rows GROUP BY suppression_list_id) n
    WHERE l.id = n.suppression_list_id;
    RETURN NULL;
END $$;

CREATE FUNCTION suppression_entry_count_after_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE suppression_lists l SET entry_count = l.entry_count - o.removed
    FROM (SELECT suppression_list_id, count(*) AS removed FROM old_rows GROUP BY suppression_list_id) o
    WHERE l.id = o.suppression_list_id;
    RETURN NULL;
END $$;

CREATE TRIGGER suppression_entries_count_insert AFTER INSERT ON suppression_entries
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION suppression_entry_count_after_insert();
CREATE TRIGGER suppression_entries_count_delete AFTER DELETE ON suppression_entries
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION suppression_entry_count_after_delete();
"""


forwards = sql_migration(ID, DESCRIPTION, SQL)
