"""The one Piccolo app: every table of Ignite, migrations in the top-level `migrations/` folder."""

from pathlib import Path

from piccolo.conf.apps import AppConfig, table_finder

MIGRATIONS_FOLDER = Path(__file__).resolve().parent.parent.parent / "migrations"

APP_CONFIG = AppConfig(
    app_name="ignite",
    migrations_folder_path=str(MIGRATIONS_FOLDER),
    table_classes=table_finder(
        modules=[
            "app.db.accounts", "app.db.audit", "app.db.inbox", "app.db.audience", "app.db.suppression",
            "app.db.segments", "app.db.imports", "app.db.content",
            "app.db.delivery", "app.db.campaigns", "app.db.tracking", "app.db.bounce_mailboxes",
            "app.db.api_keys", "app.db.transactional", "app.db.webhooks", "app.db.leads", "app.db.automations",
            "app.db.rollups", "app.db.costs", "app.db.everflow", "app.db.intelligence", "app.db.planner",
            "app.db.intake", "app.db.task_board",
        ],
        exclude_imported=True,
    ),
    migration_dependencies=[],
    commands=[],
)
