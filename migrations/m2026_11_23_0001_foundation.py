"""Foundation: workspaces, users, memberships, tokens, audit log, development inbox."""

from app.db.migrating import sql_migration

ID = "2026-11-23T09:45:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "foundation"

SQL = """
CREATE TABLE workspaces (
    id serial PRIMARY KEY,
    name varchar(120) NOT NULL,
    slug varchar(80) NOT NULL UNIQUE,
    timezone varchar(64) NOT NULL DEFAULT 'UTC',
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE users (
    id serial PRIMARY KEY,
    email varchar(320) NOT NULL UNIQUE,
    name varchar(120) NOT NULL DEFAULT '',
    password_hash text NOT NULL,
    is_active boolean NOT NULL DEFAULT true,
    last_portal varchar(16) NOT NULL DEFAULT '',
    last_workspace_id integer REFERENCES workspaces(id) ON DELETE SET NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    last_login_at timestamptz
);

CREATE TABLE memberships (
    id serial PRIMARY KEY,
    workspace_id integer NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    user_id integer NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role varchar(16) NOT NULL CHECK (role IN ('owner', 'admin', 'marketer', 'analyst')),
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (workspace_id, user_id)
);
CREATE INDEX memberships_user_idx ON memberships (user_id);

CREATE TABLE password_resets (
    id serial PRIMARY KEY,
    user_id integer NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    token_hash varchar(64) NOT NULL UNIQUE,
    expires_at timestamptz NOT NULL,
    used_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE invites (
    id serial PRIMARY KEY,
    workspace_id integer NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    email varchar(320) NOT NULL,
    role varchar(16) NOT NULL CHECK (role IN ('owner', 'admin', 'marketer', 'analyst')),
    token_hash varchar(64) NOT NULL UNIQUE,
    invited_by integer NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    expires_at timestamptz NOT NULL,
    accepted_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX invites_workspace_idx ON invites (workspace_id, created_at DESC);

CREATE TABLE audit_log (
    id bigserial PRIMARY KEY,
    workspace_id integer NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    user_id integer,
    actor varchar(320) NOT NULL DEFAULT '',
    action varchar(64) NOT NULL,
    target_type varchar(64) NOT NULL DEFAULT '',
    target_id varchar(64) NOT NULL DEFAULT '',
    ip varchar(64) NOT NULL DEFAULT '',
    details jsonb NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX audit_log_workspace_idx ON audit_log (workspace_id, id DESC);

CREATE TABLE captured_messages (
    id bigserial PRIMARY KEY,
    workspace_id integer NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    mail_from varchar(320) NOT NULL,
    rcpt_to text NOT NULL,
    subject text NOT NULL DEFAULT '',
    message_id varchar(255) NOT NULL DEFAULT '',
    raw bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX captured_messages_workspace_idx ON captured_messages (workspace_id, id DESC);
"""


forwards = sql_migration(ID, DESCRIPTION, SQL)
