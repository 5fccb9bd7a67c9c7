"""The operator's kill switch for every workspace, and what the development capture did not keep.

`platform_sending_stop` holds at most one row: while it exists no campaign of
any workspace is sent (`ignite stop-sending` writes it, `ignite resume-sending`
removes it). `captured_overflow` counts, per workspace, the captured messages
dropped to keep only the newest ones.
"""

from app.db.migrating import sql_migration

ID = "2026-12-01T07:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "sending engine"

SQL = """
CREATE TABLE platform_sending_stop (
    id boolean PRIMARY KEY DEFAULT true CHECK (id),
    stopped_at timestamptz NOT NULL DEFAULT now(),
    reason text NOT NULL,
    stopped_by varchar(320) NOT NULL DEFAULT ''
);

CREATE TABLE captured_overflow (
    workspace_id integer PRIMARY KEY REFERENCES workspaces(id) ON DELETE CASCADE,
    dropped bigint NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL DEFAULT now()
);
"""


forwards = sql_migration(ID, DESCRIPTION, SQL)
