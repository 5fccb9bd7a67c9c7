"""Campaign options: tags, UTM, a pool override, exclusions, when each recipient gets it, A/B tests, kill switches.

`deliveries.next_attempt_at` is when a row may be claimed, for queued rows as
well as deferred ones: per-recipient local time and best-hour sending write it
at materialisation. `held` rows are the rest of an A/B test's audience, waiting
for the winner. `subscribers.timezone` is an IANA name, '' when not known.
"""

from app.db.migrating import sql_migration

ID = "2026-12-01T01:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "campaign options"

SQL = """
ALTER TABLE campaigns
    ADD COLUMN tags text[] NOT NULL DEFAULT '{}',
    ADD COLUMN utm jsonb NOT NULL DEFAULT '{}',
    ADD COLUMN pool_server_ids integer[] NOT NULL DEFAULT '{}',
    ADD COLUMN exclude_recent_days smallint CHECK (exclude_recent_days BETWEEN 1 AND 365),
    ADD COLUMN send_mode varchar(12) NOT NULL DEFAULT 'now'
        CHECK (send_mode IN ('now', 'at', 'local', 'best_hour')),
    ADD COLUMN window_start smallint CHECK (window_start BETWEEN 0 AND 1439),
    ADD COLUMN window_end smallint CHECK (window_end BETWEEN 1 AND 1440),
    ADD COLUMN speed_per_hour integer CHECK (speed_per_hour > 0),
    ADD COLUMN ab_dimension varchar(12) NOT NULL DEFAULT ''
        CHECK (ab_dimension IN ('', 'subject', 'from_name', 'content')),
    ADD COLUMN ab_test_percent smallint NOT NULL DEFAULT 20 CHECK (ab_test_percent BETWEEN 1 AND 100),
    ADD COLUMN ab_metric varchar(12) NOT NULL DEFAULT 'opens' CHECK (ab_metric IN ('opens', 'clicks', 'conversions')),
    ADD COLUMN ab_wait_minutes integer NOT NULL DEFAULT 240 CHECK (ab_wait_minutes BETWEEN 1 AND 43200),
    ADD COLUMN ab_winner smallint,
    ADD COLUMN ab_decided_at timestamptz,
    ADD COLUMN review jsonb NOT NULL DEFAULT '{}';

-- The variants of an A/B test, numbered from 1; each carries what it changes and, from launch, its snapshot.
CREATE TABLE campaign_variants (
    id serial PRIMARY KEY,
    workspace_id integer NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    campaign_id integer NOT NULL REFERENCES campaigns(id) ON DELETE CASCADE,
    variant smallint NOT NULL CHECK (variant BETWEEN 1 AND 5),
    subject text NOT NULL DEFAULT '',
    from_name varchar(120) NOT NULL DEFAULT '',
    template_id integer REFERENCES email_templates(id) ON DELETE SET NULL,
    snapshot_subject text NOT NULL DEFAULT '',
    snapshot_html text NOT NULL DEFAULT '',
    snapshot_text text,
    snapshot_preheader varchar(255) NOT NULL DEFAULT '',
    snapshot_version integer NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (campaign_id, variant)
);
CREATE INDEX campaign_variants_workspace_idx ON campaign_variants (workspace_id, campaign_id);

-- What A/B tests taught: one row per variant of a decided test, for the Analytics portal.
CREATE TABLE content_learnings (
    id serial PRIMARY KEY,
    workspace_id integer NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    campaign_id integer NOT NULL REFERENCES campaigns(id) ON DELETE CASCADE,
    variant smallint NOT NULL,
    dimension varchar(12) NOT NULL,
    content text NOT NULL DEFAULT '',
    metric varchar(12) NOT NULL,
    sample_size integer NOT NULL,
    successes integer NOT NULL,
    rate double precision NOT NULL,
    lift double precision,
    p_value double precision,
    winner boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (campaign_id, variant)
);
CREATE INDEX content_learnings_workspace_idx ON content_learnings (workspace_id, created_at DESC);

ALTER TABLE deliveries DROP CONSTRAINT deliveries_status_check;
ALTER TABLE deliveries ADD CONSTRAINT deliveries_status_check
    CHECK (status IN ('queued', 'claimed', 'sent', 'deferred', 'failed', 'cancelled', 'held'));
DROP INDEX deliveries_open_idx;
CREATE INDEX deliveries_open_idx ON deliveries (campaign_id, id)
    WHERE status IN ('queued', 'claimed', 'deferred', 'held');

ALTER TABLE subscribers ADD COLUMN timezone varchar(64) NOT NULL DEFAULT '';

-- The workspace's kill switch: while stopped_at is set nothing of the workspace is sent.
ALTER TABLE workspaces
    ADD COLUMN sending_stopped_at timestamptz,
    ADD COLUMN sending_stopped_reason text NOT NULL DEFAULT '',
    ADD COLUMN sending_stopped_by integer REFERENCES users(id) ON DELETE SET NULL;
"""


forwards = sql_migration(ID, DESCRIPTION, SQL)
