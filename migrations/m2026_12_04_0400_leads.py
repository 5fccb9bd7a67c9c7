"""Leads a sponsor or lead vendor posted through the API: who sent them, their sub-ids, and the consent record.

A lead names the subscriber row it created; erasing or deleting that subscriber deletes the lead with it, so
the consent record (an IP address, a page) never outlives the person it is about.
"""

from app.db.migrating import sql_migration

ID = "2026-12-04T04:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "leads"

SQL = """
CREATE TABLE leads (
    id bigserial PRIMARY KEY,
    workspace_id integer NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    list_id integer NOT NULL REFERENCES lists(id) ON DELETE CASCADE,
    subscriber_id bigint NOT NULL REFERENCES subscribers(id) ON DELETE CASCADE,
    source varchar(120) NOT NULL,
    sub1 varchar(255) NOT NULL DEFAULT '',
    sub2 varchar(255) NOT NULL DEFAULT '',
    sub3 varchar(255) NOT NULL DEFAULT '',
    sub4 varchar(255) NOT NULL DEFAULT '',
    sub5 varchar(255) NOT NULL DEFAULT '',
    consent jsonb NOT NULL,
    api_key_id integer,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX leads_workspace_source_idx ON leads (workspace_id, source, created_at);
CREATE INDEX leads_subscriber_idx ON leads (subscriber_id);
"""


forwards = sql_migration(ID, DESCRIPTION, SQL)
