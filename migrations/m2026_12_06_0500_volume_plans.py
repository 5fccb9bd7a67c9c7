"""Volume plans: saved scenarios of the volume planner, with the inputs they were run on and their plan.

A scenario keeps the inputs as they were read when it ran (servers, caps, measured eCPM, the audience's
domain mix), so reopening or comparing it shows the same figures later; `applied_at` says when its
routing weights and warm-up assignments were put in force.
"""

from app.db.migrating import sql_migration

ID = "2026-12-06T05:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "volume plans"

SQL = """
CREATE TABLE volume_scenarios (
    id serial PRIMARY KEY,
    workspace_id integer NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    name varchar(120) NOT NULL,
    target bigint NOT NULL,
    days integer NOT NULL,
    start_on date NOT NULL,
    choices jsonb NOT NULL DEFAULT '{}',
    inputs jsonb NOT NULL DEFAULT '{}',
    plan jsonb NOT NULL DEFAULT '[]',
    days_to_target integer,
    sent bigint NOT NULL DEFAULT 0,
    final_daily bigint NOT NULL DEFAULT 0,
    cost numeric(16, 2) NOT NULL DEFAULT 0,
    revenue numeric(16, 2) NOT NULL DEFAULT 0,
    shortfall text NOT NULL DEFAULT '',
    created_by varchar(320) NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now(),
    applied_at timestamptz,
    applied_by varchar(320) NOT NULL DEFAULT '',
    UNIQUE (workspace_id, name)
);
"""


forwards = sql_migration(ID, DESCRIPTION, SQL)
