"""Content: the template library and sending domains with their DKIM keys."""

from app.db.migrating import sql_migration

ID = "2026-11-23T10:50:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "content"

SQL = """
CREATE TABLE email_templates (
    id serial PRIMARY KEY,
    workspace_id integer NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    name varchar(160) NOT NULL,
    category varchar(64) NOT NULL DEFAULT '',
    subject text NOT NULL DEFAULT '',
    preheader varchar(255) NOT NULL DEFAULT '',
    html text NOT NULL DEFAULT '',
    text_part text,
    version integer NOT NULL DEFAULT 1,
    removed_on_save jsonb NOT NULL DEFAULT '[]',
    archived_at timestamptz,
    created_by integer REFERENCES users(id) ON DELETE SET NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX email_templates_workspace_idx ON email_templates (workspace_id, archived_at, updated_at DESC);

CREATE TABLE sending_domains (
    id serial PRIMARY KEY,
    workspace_id integer NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    domain varchar(253) NOT NULL,
    dkim_selector varchar(63) NOT NULL DEFAULT 'ignite',
    dkim_private_key text NOT NULL DEFAULT '',
    dkim_public_record text NOT NULL DEFAULT '',
    return_path_domain varchar(253) NOT NULL DEFAULT '',
    spf_include varchar(253) NOT NULL DEFAULT '',
    dns_status jsonb NOT NULL DEFAULT '{}',
    checked_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (workspace_id, domain)
);
"""


forwards = sql_migration(ID, DESCRIPTION, SQL)
