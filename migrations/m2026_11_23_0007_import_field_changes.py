"""Earlier field values of subscribers an add-and-update import changed, so a rollback can restore them."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from app.db.migrating import sql_step

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


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="ignite", description=DESCRIPTION)
    manager.add_raw(sql_step(SQL))
    return manager
