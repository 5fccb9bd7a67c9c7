"""Transactional messages: one delivery per message, in a per-workspace stream campaign that never finishes.

Each message the API accepts is a `deliveries` row (`transactional = true`), so tracking tokens, the aggregator,
bounce matching, feedback rates and suppression actions treat it as they treat a campaign's. The rows belong to
the workspace's stream campaign (`kind = 'transactional'`, status `stream`): no campaign machinery (the reaper,
the kill switch's pausing, finishing, the lists) ever picks it up. A person may get many messages of the stream,
so the one-row-per-address rule holds only for campaigns: the unique index adds the row's id for transactional
rows and 0 for a campaign's. It stays a full index led by campaign_id (a partial one, `WHERE NOT transactional`,
would leave every "the rows of campaign X" query without an index to use).

What the API was given is kept beside: the content once per call (`transactional_contents`, shared by every
recipient of a batch, so it is compiled once), each recipient's data, tags and metadata per message, and
attachments in their own table (fetched only when a message is built).

A campaign's events always carry their subscriber, so looking a message's events up by delivery through
`events_subscriber_idx` works for subscribers; messages to addresses that are not subscribers use the partial
index below, which only such events enter.
"""

from app.db.migrating import sql_migration

ID = "2026-12-04T02:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "transactional messages"

SQL = """
ALTER TABLE campaigns ADD COLUMN kind varchar(16) NOT NULL DEFAULT 'campaign'
    CHECK (kind IN ('campaign', 'transactional'));
ALTER TABLE campaigns DROP CONSTRAINT campaigns_status_check;
ALTER TABLE campaigns ADD CONSTRAINT campaigns_status_check
    CHECK (status IN ('draft', 'scheduled', 'sending', 'paused', 'sent', 'cancelled', 'failed', 'stream'));
CREATE UNIQUE INDEX campaigns_stream_idx ON campaigns (workspace_id) WHERE kind = 'transactional';

ALTER TABLE deliveries ADD COLUMN transactional boolean NOT NULL DEFAULT false;
ALTER TABLE deliveries DROP CONSTRAINT deliveries_campaign_id_email_key;
CREATE UNIQUE INDEX deliveries_campaign_email_idx
    ON deliveries (campaign_id, email, (CASE WHEN transactional THEN id ELSE 0 END));

CREATE INDEX events_without_subscriber_idx ON events (delivery_id) WHERE subscriber_id IS NULL;

CREATE TABLE transactional_contents (
    id bigserial PRIMARY KEY,
    workspace_id integer NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    template_id integer REFERENCES email_templates(id) ON DELETE SET NULL,
    subject text NOT NULL DEFAULT '',
    preheader varchar(255) NOT NULL DEFAULT '',
    html text NOT NULL DEFAULT '',
    text_part text,
    from_email varchar(320) NOT NULL,
    from_name varchar(120) NOT NULL DEFAULT '',
    reply_to varchar(320) NOT NULL DEFAULT '',
    headers jsonb NOT NULL DEFAULT '{}',
    attachment_bytes integer NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX transactional_contents_workspace_idx ON transactional_contents (workspace_id, id);

CREATE TABLE transactional_attachments (
    id bigserial PRIMARY KEY,
    workspace_id integer NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    content_id bigint NOT NULL REFERENCES transactional_contents(id) ON DELETE CASCADE,
    filename varchar(255) NOT NULL,
    content_type varchar(255) NOT NULL,
    body bytea NOT NULL
);
CREATE INDEX transactional_attachments_content_idx ON transactional_attachments (content_id);

-- id is the delivery's id; the delivery holds the address, status, attempts, server and answers.
CREATE TABLE transactional_messages (
    id bigint PRIMARY KEY,
    workspace_id integer NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    content_id bigint NOT NULL REFERENCES transactional_contents(id) ON DELETE CASCADE,
    api_key_id integer,
    batch_id uuid,
    email varchar(320) NOT NULL,
    data jsonb NOT NULL DEFAULT '{}',
    tags text[] NOT NULL DEFAULT '{}',
    metadata jsonb NOT NULL DEFAULT '{}',
    scheduled_at timestamptz,
    sandbox boolean NOT NULL DEFAULT false,
    -- Each time it was put off ({"at", "answer"}): the delivery keeps only its latest state.
    deferrals jsonb NOT NULL DEFAULT '[]',
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX transactional_messages_workspace_idx ON transactional_messages (workspace_id, id DESC);
CREATE INDEX transactional_messages_email_idx ON transactional_messages (workspace_id, email, id DESC);
CREATE INDEX transactional_messages_tags_idx ON transactional_messages USING gin (tags);
"""


forwards = sql_migration(ID, DESCRIPTION, SQL)
