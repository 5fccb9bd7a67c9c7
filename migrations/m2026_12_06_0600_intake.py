"""Scheduled S3 intake: sources polled for new files, rules that classify each file, and the files taken in.

`intake_sources`: a bucket and prefix per source, the access key (its secret Fernet-encrypted by
app/services/vault.py), how often it is polled and how long it may stay quiet before someone is told.
`alert` remembers the notice last given ('' when the source is fine) so a notice is given once per change.

`intake_rules`: in order, the first rule whose name pattern (a glob) or header columns match classifies a
file as mailable, suppression or warm-up seed and picks its list (and suppression list) and mapping.

`intake_files`: each object taken in, with its import, where it was moved, rows, rejects, duration and a
quality score (0 to 100) with the figures behind it. Unique per source, key and ETag, so a file seen again while
it is being handled is not taken twice.
"""

from app.db.migrating import sql_migration

ID = "2026-12-06T06:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "s3 intake"

SQL = """
CREATE TABLE intake_sources (
    id serial PRIMARY KEY,
    workspace_id integer NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    name varchar(120) NOT NULL,
    bucket varchar(255) NOT NULL,
    prefix varchar(1024) NOT NULL DEFAULT '',
    region varchar(64) NOT NULL DEFAULT '',
    endpoint_url varchar(255) NOT NULL DEFAULT '',
    access_key_id varchar(255) NOT NULL DEFAULT '',
    secret text NOT NULL DEFAULT '',
    poll_minutes integer NOT NULL DEFAULT 15 CHECK (poll_minutes BETWEEN 5 AND 1440),
    quiet_hours integer NOT NULL DEFAULT 24 CHECK (quiet_hours BETWEEN 1 AND 2160),
    enabled boolean NOT NULL DEFAULT true,
    last_polled_at timestamptz,
    last_success_at timestamptz,
    last_file_at timestamptz,
    last_error text NOT NULL DEFAULT '',
    alert varchar(16) NOT NULL DEFAULT '' CHECK (alert IN ('', 'failing', 'quiet')),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (workspace_id, name)
);
CREATE INDEX intake_sources_due_idx ON intake_sources (last_polled_at) WHERE enabled;

CREATE TABLE intake_rules (
    id serial PRIMARY KEY,
    workspace_id integer NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    source_id integer NOT NULL REFERENCES intake_sources(id) ON DELETE CASCADE,
    position integer NOT NULL DEFAULT 0,
    match varchar(8) NOT NULL DEFAULT 'name' CHECK (match IN ('name', 'header')),
    pattern varchar(500) NOT NULL,
    kind varchar(16) NOT NULL DEFAULT 'mailable' CHECK (kind IN ('mailable', 'suppression', 'warmup_seed')),
    list_id integer NOT NULL REFERENCES lists(id) ON DELETE CASCADE,
    suppression_list_id integer REFERENCES suppression_lists(id) ON DELETE SET NULL,
    columns jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX intake_rules_source_idx ON intake_rules (source_id, position, id);

CREATE TABLE intake_files (
    id bigserial PRIMARY KEY,
    workspace_id integer NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    source_id integer NOT NULL REFERENCES intake_sources(id) ON DELETE CASCADE,
    rule_id integer REFERENCES intake_rules(id) ON DELETE SET NULL,
    import_id integer REFERENCES imports(id) ON DELETE SET NULL,
    key varchar(1024) NOT NULL,
    etag varchar(128) NOT NULL DEFAULT '',
    size bigint NOT NULL DEFAULT 0,
    kind varchar(16) NOT NULL DEFAULT '',
    status varchar(16) NOT NULL DEFAULT 'importing'
        CHECK (status IN ('importing', 'processed', 'failed', 'unmatched')),
    moved_to varchar(1024) NOT NULL DEFAULT '',
    rows bigint NOT NULL DEFAULT 0,
    rejects bigint NOT NULL DEFAULT 0,
    duration_ms bigint NOT NULL DEFAULT 0,
    score integer CHECK (score BETWEEN 0 AND 100),
    quality jsonb NOT NULL DEFAULT '{}'::jsonb,
    error text NOT NULL DEFAULT '',
    seen_at timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz,
    UNIQUE (source_id, key, etag)
);
CREATE INDEX intake_files_history_idx ON intake_files (workspace_id, id DESC);
"""


forwards = sql_migration(ID, DESCRIPTION, SQL)
