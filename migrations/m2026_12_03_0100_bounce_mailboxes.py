"""Bounce and feedback-loop (FBL) mailboxes that the workers poll over IMAP or POP3.

One row per mailbox of a workspace: where it is (protocol, host, port, security), who logs in (the
password Fernet-encrypted by app/services/vault.py), which folder is read (IMAP; POP3 has only the
inbox), what happens to a message once its report is stored (deleted, or moved to `move_to` over IMAP),
how often it is polled, and what the last poll found. A poll is due when `last_polled_at` is older than
`poll_seconds`; the index serves the scheduler's search for due mailboxes.
"""

from app.db.migrating import sql_migration

ID = "2026-12-03T01:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "bounce mailboxes"

SQL = """
CREATE TABLE bounce_mailboxes (
    id serial PRIMARY KEY,
    workspace_id integer NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    name varchar(120) NOT NULL,
    kind varchar(8) NOT NULL DEFAULT 'bounce' CHECK (kind IN ('bounce', 'fbl')),
    protocol varchar(8) NOT NULL DEFAULT 'imap' CHECK (protocol IN ('imap', 'pop3')),
    host varchar(255) NOT NULL,
    port integer NOT NULL CHECK (port BETWEEN 1 AND 65535),
    security varchar(16) NOT NULL DEFAULT 'ssl' CHECK (security IN ('ssl', 'starttls', 'none')),
    username varchar(320) NOT NULL,
    password text NOT NULL DEFAULT '',
    folder varchar(255) NOT NULL DEFAULT 'INBOX',
    after varchar(8) NOT NULL DEFAULT 'delete' CHECK (after IN ('delete', 'move')),
    move_to varchar(255) NOT NULL DEFAULT '',
    poll_seconds integer NOT NULL DEFAULT 300 CHECK (poll_seconds >= 30),
    enabled boolean NOT NULL DEFAULT true,
    last_polled_at timestamptz,
    last_result text NOT NULL DEFAULT '',
    last_error text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (workspace_id, name),
    CHECK (after <> 'move' OR (protocol = 'imap' AND move_to <> ''))
);
CREATE INDEX bounce_mailboxes_due_idx ON bounce_mailboxes (last_polled_at) WHERE enabled;
"""


forwards = sql_migration(ID, DESCRIPTION, SQL)
