"""Earlier field values of subscribers an add-and-update import changed, so a rollback can restore them."""

from app.db.migrating import sql_migration

ID = "2026-11-23T11:10:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "import field changes"

SQL = """
CREATE TABLE import_field_changes (
    import_id integer NOT NULL REFERENCES imports(id) ON DELETE CASCADE,
    workspace_id integer NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    subscriber_id bigint NOT NULL REFERENCES subscribers(id) ON DELETE CASCADE,
    previous_fields jsonb NOT NULL,
    PRIMARY KEY (import_id, subscriber_id)
);
"""


forwards = sql_migration(ID, DESCRIPTION, SQL)
