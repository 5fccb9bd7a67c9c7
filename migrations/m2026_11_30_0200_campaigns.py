"""Campaigns and their deliveries: one row per recipient, unique per address, claimed by send workers with a lease.

The partial indexes hold only rows still in play, so the reaper, the claim of a
deferred row and the "is anything left?" check of a finished campaign stay
small however many millions of rows were sent.
"""

from app.db.migrating import sql_migration

ID = "2026-11-30T02:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "campaigns"

SQL = """
CREATE TABLE campaigns (
    id serial PRIMARY KEY,
    workspace_id integer NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    name varchar(160) NOT NULL,
    status varchar(16) NOT NULL DEFAULT 'draft'
        CHECK (status IN ('draft', 'scheduled', 'sending', 'paused', 'sent', 'cancelled', 'failed')),
    status_reason text NOT NULL DEFAULT '',
    from_name varchar(120) NOT NULL DEFAULT '',
    from_email varchar(320) NOT NULL DEFAULT '',
    reply_to varchar(320) NOT NULL DEFAULT '',
    subject text NOT NULL DEFAULT '',
    preheader varchar(255) NOT NULL DEFAULT '',
    template_id integer REFERENCES email_templates(id) ON DELETE SET NULL,
    routing_tag varchar(64) NOT NULL DEFAULT '',
    list_ids integer[] NOT NULL DEFAULT '{}',
    segment_ids integer[] NOT NULL DEFAULT '{}',
    exclusion_segment_ids integer[] NOT NULL DEFAULT '{}',
    scheduled_at timestamptz,
    timezone varchar(64) NOT NULL DEFAULT 'UTC',
    snapshot_subject text NOT NULL DEFAULT '',
    snapshot_html text NOT NULL DEFAULT '',
    snapshot_text text,
    snapshot_preheader varchar(255) NOT NULL DEFAULT '',
    snapshot_version integer NOT NULL DEFAULT 0,
    snapshot_at timestamptz,
    materialised_through bigint,
    materialised_at timestamptz,
    recipient_count bigint NOT NULL DEFAULT 0,
    sent_count bigint NOT NULL DEFAULT 0,
    failed_count bigint NOT NULL DEFAULT 0,
    skipped_count bigint NOT NULL DEFAULT 0,
    deferred_count bigint NOT NULL DEFAULT 0,
    breakdown jsonb NOT NULL DEFAULT '{}',
    counted_at timestamptz,
    created_by integer REFERENCES users(id) ON DELETE SET NULL,
    started_at timestamptz,
    finished_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX campaigns_workspace_idx ON campaigns (workspace_id, id DESC);
CREATE INDEX campaigns_due_idx ON campaigns (scheduled_at) WHERE status = 'scheduled';
CREATE INDEX campaigns_active_idx ON campaigns (id) WHERE status IN ('sending', 'paused');

-- workspace_id has no foreign key of its own: the campaign's already removes a workspace's deliveries, and a
-- second per-row check would cost materialising a sixth of its time.
CREATE TABLE deliveries (
    id bigserial PRIMARY KEY,
    workspace_id integer NOT NULL,
    campaign_id integer NOT NULL REFERENCES campaigns(id) ON DELETE CASCADE,
    subscriber_id bigint,
    email varchar(320) NOT NULL,
    domain varchar(255) NOT NULL DEFAULT '',
    variant smallint NOT NULL DEFAULT 0,
    status varchar(10) NOT NULL DEFAULT 'queued'
        CHECK (status IN ('queued', 'claimed', 'sent', 'deferred', 'failed', 'cancelled')),
    server_id integer,
    domain_group varchar(64) NOT NULL DEFAULT '',
    attempts smallint NOT NULL DEFAULT 0,
    last_answer text NOT NULL DEFAULT '',
    provider_message_id varchar(255) NOT NULL DEFAULT '',
    lease_until timestamptz,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    sent_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (campaign_id, email)
);
CREATE INDEX deliveries_open_idx ON deliveries (campaign_id, id)
    WHERE status IN ('queued', 'claimed', 'deferred');
CREATE INDEX deliveries_leased_idx ON deliveries (lease_until) WHERE status = 'claimed';
"""


forwards = sql_migration(ID, DESCRIPTION, SQL)
