"""Audience: lists, custom fields, subscribers, tags, status history, suppression, segments, imports, events."""

from app.db.migrating import sql_migration

ID = "2026-11-23T10:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "audience"

SQL = """
CREATE TABLE lists (
    id serial PRIMARY KEY,
    workspace_id integer NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    name varchar(120) NOT NULL,
    display_name varchar(120) NOT NULL DEFAULT '',
    description text NOT NULL DEFAULT '',
    from_name varchar(120) NOT NULL DEFAULT '',
    from_email varchar(320) NOT NULL DEFAULT '',
    reply_to varchar(320) NOT NULL DEFAULT '',
    company_name varchar(200) NOT NULL DEFAULT '',
    company_address text NOT NULL DEFAULT '',
    opt_in varchar(8) NOT NULL DEFAULT 'single' CHECK (opt_in IN ('single', 'double')),
    opt_out varchar(8) NOT NULL DEFAULT 'single' CHECK (opt_out IN ('single', 'double')),
    welcome_email boolean NOT NULL DEFAULT false,
    require_approval boolean NOT NULL DEFAULT false,
    archived_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (workspace_id, name)
);

-- Counters kept by statement-level triggers, so list pages never COUNT(*) millions of rows.
CREATE TABLE list_counters (
    list_id integer PRIMARY KEY REFERENCES lists(id) ON DELETE CASCADE,
    workspace_id integer NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    total bigint NOT NULL DEFAULT 0,
    unconfirmed bigint NOT NULL DEFAULT 0,
    confirmed bigint NOT NULL DEFAULT 0,
    unsubscribed bigint NOT NULL DEFAULT 0,
    bounced bigint NOT NULL DEFAULT 0,
    complained bigint NOT NULL DEFAULT 0,
    blacklisted bigint NOT NULL DEFAULT 0
);

CREATE TABLE list_fields (
    id serial PRIMARY KEY,
    workspace_id integer NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    list_id integer NOT NULL REFERENCES lists(id) ON DELETE CASCADE,
    label varchar(120) NOT NULL,
    tag varchar(64) NOT NULL CHECK (tag ~ '^[a-z][a-z0-9_]{0,63}$'),
    kind varchar(16) NOT NULL
        CHECK (kind IN ('text', 'textarea', 'number', 'date', 'dropdown', 'checkbox', 'phone', 'url')),
    required boolean NOT NULL DEFAULT false,
    default_value text NOT NULL DEFAULT '',
    options jsonb NOT NULL DEFAULT '[]',
    visible boolean NOT NULL DEFAULT true,
    position integer NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (list_id, tag)
);

CREATE TABLE subscribers (
    id bigserial PRIMARY KEY,
    workspace_id integer NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    list_id integer NOT NULL REFERENCES lists(id) ON DELETE CASCADE,
    email varchar(320) NOT NULL,
    email_domain varchar(255) NOT NULL DEFAULT '',
    status varchar(16) NOT NULL DEFAULT 'confirmed'
        CHECK (status IN ('unconfirmed', 'confirmed', 'unsubscribed', 'bounced', 'complained', 'blacklisted')),
    fields jsonb NOT NULL DEFAULT '{}',
    source varchar(32) NOT NULL DEFAULT 'manual',
    ip varchar(64) NOT NULL DEFAULT '',
    engagement_score smallint NOT NULL DEFAULT 0,
    last_open_at timestamptz,
    last_click_at timestamptz,
    confirmed_at timestamptz,
    unsubscribed_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (list_id, email)
);
CREATE INDEX subscribers_list_status_idx ON subscribers (list_id, status, id);
CREATE INDEX subscribers_workspace_email_idx ON subscribers (workspace_id, email);
CREATE INDEX subscribers_email_pattern_idx ON subscribers (list_id, email varchar_pattern_ops);
CREATE INDEX subscribers_fields_idx ON subscribers USING gin (fields jsonb_path_ops);
CREATE INDEX subscribers_created_idx ON subscribers (list_id, created_at);

CREATE TABLE tags (
    id serial PRIMARY KEY,
    workspace_id integer NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    name varchar(64) NOT NULL,
    UNIQUE (workspace_id, name)
);

CREATE TABLE subscriber_tags (
    workspace_id integer NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    tag_id integer NOT NULL REFERENCES tags(id) ON DELETE CASCADE,
    subscriber_id bigint NOT NULL REFERENCES subscribers(id) ON DELETE CASCADE,
    PRIMARY KEY (tag_id, subscriber_id)
);
CREATE INDEX subscriber_tags_subscriber_idx ON subscriber_tags (subscriber_id);

CREATE TABLE subscriber_status_changes (
    id bigserial PRIMARY KEY,
    workspace_id integer NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    subscriber_id bigint NOT NULL REFERENCES subscribers(id) ON DELETE CASCADE,
    from_status varchar(16) NOT NULL DEFAULT '',
    to_status varchar(16) NOT NULL,
    source varchar(64) NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX subscriber_status_changes_subscriber_idx ON subscriber_status_changes (subscriber_id, id);

-- Daily joins and leaves per list, for the growth chart.
CREATE TABLE list_daily_stats (
    workspace_id integer NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    list_id integer NOT NULL REFERENCES lists(id) ON DELETE CASCADE,
    day date NOT NULL,
    joined bigint NOT NULL DEFAULT 0,
    left_list bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (list_id, day)
);

CREATE TABLE suppression_lists (
    id serial PRIMARY KEY,
    workspace_id integer NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    name varchar(120) NOT NULL,
    is_blacklist boolean NOT NULL DEFAULT false,
    description text NOT NULL DEFAULT '',
    entry_count bigint NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (workspace_id, name)
);
CREATE UNIQUE INDEX suppression_lists_one_blacklist ON suppression_lists (workspace_id) WHERE is_blacklist;

CREATE TABLE suppression_entries (
    id bigserial PRIMARY KEY,
    workspace_id integer NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    suppression_list_id integer NOT NULL REFERENCES suppression_lists(id) ON DELETE CASCADE,
    kind varchar(8) NOT NULL CHECK (kind IN ('email', 'md5', 'sha256', 'domain')),
    value varchar(320) NOT NULL,
    reason varchar(200) NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (suppression_list_id, kind, value)
);
CREATE INDEX suppression_entries_lookup_idx ON suppression_entries (workspace_id, kind, value);

CREATE TABLE segments (
    id serial PRIMARY KEY,
    workspace_id integer NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    name varchar(120) NOT NULL,
    description text NOT NULL DEFAULT '',
    list_ids integer[] NOT NULL DEFAULT '{}',
    conditions jsonb NOT NULL DEFAULT '{"match": "all", "rules": []}',
    cached_count bigint,
    counted_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (workspace_id, name)
);

CREATE TABLE imports (
    id serial PRIMARY KEY,
    workspace_id integer NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    list_id integer REFERENCES lists(id) ON DELETE CASCADE,
    suppression_list_id integer REFERENCES suppression_lists(id) ON DELETE CASCADE,
    source varchar(8) NOT NULL DEFAULT 'upload' CHECK (source IN ('upload', 's3')),
    location text NOT NULL DEFAULT '',
    filename varchar(255) NOT NULL DEFAULT '',
    mode varchar(16) NOT NULL DEFAULT 'add' CHECK (mode IN ('add', 'add_update', 'unsubscribe', 'suppress')),
    mapping jsonb NOT NULL DEFAULT '{}',
    options jsonb NOT NULL DEFAULT '{}',
    status varchar(16) NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'running', 'completed', 'failed', 'cancelled', 'rolled_back')),
    total_bytes bigint NOT NULL DEFAULT 0,
    processed_bytes bigint NOT NULL DEFAULT 0,
    rows_seen bigint NOT NULL DEFAULT 0,
    inserted bigint NOT NULL DEFAULT 0,
    updated bigint NOT NULL DEFAULT 0,
    skipped_duplicate bigint NOT NULL DEFAULT 0,
    invalid bigint NOT NULL DEFAULT 0,
    suppressed bigint NOT NULL DEFAULT 0,
    error text NOT NULL DEFAULT '',
    created_by integer REFERENCES users(id) ON DELETE SET NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    started_at timestamptz,
    finished_at timestamptz
);
CREATE INDEX imports_workspace_idx ON imports (workspace_id, id DESC);

CREATE TABLE import_rejects (
    id bigserial PRIMARY KEY,
    workspace_id integer NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    import_id integer NOT NULL REFERENCES imports(id) ON DELETE CASCADE,
    row_number bigint NOT NULL,
    email text NOT NULL DEFAULT '',
    reason varchar(200) NOT NULL,
    raw text NOT NULL DEFAULT ''
);
CREATE INDEX import_rejects_import_idx ON import_rejects (import_id, row_number);

-- Which import created each subscriber, so a cancelled import can be rolled back.
ALTER TABLE subscribers ADD COLUMN import_id integer REFERENCES imports(id) ON DELETE SET NULL;
CREATE INDEX subscribers_import_idx ON subscribers (import_id) WHERE import_id IS NOT NULL;

-- Engagement events; partitioned by month, later issues add monthly partitions ahead of time.
CREATE TABLE events (
    id bigserial,
    workspace_id integer NOT NULL,
    subscriber_id bigint,
    campaign_id bigint,
    delivery_id bigint,
    kind varchar(16) NOT NULL,
    url text NOT NULL DEFAULT '',
    meta jsonb NOT NULL DEFAULT '{}',
    occurred_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (id, occurred_at)
) PARTITION BY RANGE (occurred_at);
CREATE TABLE events_default PARTITION OF events DEFAULT;
CREATE INDEX events_subscriber_idx ON events (subscriber_id, kind, occurred_at);
CREATE INDEX events_campaign_idx ON events (campaign_id, kind, subscriber_id);

CREATE FUNCTION list_counters_after_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO list_counters AS c (list_id, workspace_id, total, unconfirmed, confirmed, unsubscribed,
                                    bounced, complained, blacklisted)
    SELECT list_id, min(workspace_id), count(*),
           count(*) FILTER (WHERE status = 'unconfirmed'), count(*) FILTER (WHERE status = 'confirmed'),
           count(*) FILTER (WHERE status = 'unsubscribed'), count(*) FILTER (WHERE status = 'bounced'),
           count(*) FILTER (WHERE status = 'complained'), count(*) FILTER (WHERE status = 'blacklisted')
    FROM new_rows GROUP BY list_id
    ON CONFLICT (list_id) DO UPDATE SET
        total = c.total + excluded.total, unconfirmed = c.unconfirmed + excluded.unconfirmed,
        confirmed = c.confirmed + excluded.confirmed, unsubscribed = c.unsubscribed + excluded.unsubscribed,
        bounced = c.bounced + excluded.bounced, complained = c.complained + excluded.complained,
        blacklisted = c.blacklisted + excluded.blacklisted;
    INSERT INTO list_daily_stats AS d (workspace_id, list_id, day, joined)
    SELECT min(workspace_id), list_id, (now() AT TIME ZONE 'UTC')::date, count(*) FROM new_rows GROUP BY list_id
    ON CONFLICT (list_id, day) DO UPDATE SET joined = d.joined + excluded.joined;
    RETURN NULL;
END $$;

CREATE FUNCTION list_counters_after_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE list_counters c SET
        total = c.total - g.total, unconfirmed = c.unconfirmed - g.unconfirmed, confirmed = c.confirmed - g.confirmed,
        unsubscribed = c.unsubscribed - g.unsubscribed, bounced = c.bounced - g.bounced,
        complained = c.complained - g.complained, blacklisted = c.blacklisted - g.blacklisted
    FROM (
        SELECT list_id, count(*) AS total,
               count(*) FILTER (WHERE status = 'unconfirmed') AS unconfirmed,
               count(*) FILTER (WHERE status = 'confirmed') AS confirmed,
               count(*) FILTER (WHERE status = 'unsubscribed') AS unsubscribed,
               count(*) FILTER (WHERE status = 'bounced') AS bounced,
               count(*) FILTER (WHERE status = 'complained') AS complained,
               count(*) FILTER (WHERE status = 'blacklisted') AS blacklisted
        FROM old_rows GROUP BY list_id
    ) g WHERE c.list_id = g.list_id;
    INSERT INTO list_daily_stats AS d (workspace_id, list_id, day, left_list)
    SELECT min(o.workspace_id), o.list_id, (now() AT TIME ZONE 'UTC')::date, count(*)
    FROM old_rows o WHERE EXISTS (SELECT 1 FROM lists l WHERE l.id = o.list_id) GROUP BY o.list_id
    ON CONFLICT (list_id, day) DO UPDATE SET left_list = d.left_list + excluded.left_list;
    RETURN NULL;
END $$;

CREATE FUNCTION list_counters_after_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- A changed row leaves its old (list, status) and joins its new one.
    INSERT INTO list_counters AS c (list_id, workspace_id, total, unconfirmed, confirmed, unsubscribed,
                                    bounced, complained, blacklisted)
    SELECT list_id, min(workspace_id), sum(delta),
           coalesce(sum(delta) FILTER (WHERE status = 'unconfirmed'), 0),
           coalesce(sum(delta) FILTER (WHERE status = 'confirmed'), 0),
           coalesce(sum(delta) FILTER (WHERE status = 'unsubscribed'), 0),
           coalesce(sum(delta) FILTER (WHERE status = 'bounced'), 0),
           coalesce(sum(delta) FILTER (WHERE status = 'complained'), 0),
           coalesce(sum(delta) FILTER (WHERE status = 'blacklisted'), 0)
    FROM (
        SELECT o.list_id, o.workspace_id, o.status, -1 AS delta
        FROM old_rows o JOIN new_rows n ON n.id = o.id
        WHERE o.status <> n.status OR o.list_id <> n.list_id
        UNION ALL
        SELECT n.list_id, n.workspace_id, n.status, 1
        FROM old_rows o JOIN new_rows n ON n.id = o.id
        WHERE o.status <> n.status OR o.list_id <> n.list_id
    ) changes
    GROUP BY list_id
    ON CONFLICT (list_id) DO UPDATE SET
        total = c.total + excluded.total, unconfirmed = c.unconfirmed + excluded.unconfirmed,
        confirmed = c.confirmed + excluded.confirmed, unsubscribed = c.unsubscribed + excluded.unsubscribed,
        bounced = c.bounced + excluded.bounced, complained = c.complained + excluded.complained,
        blacklisted = c.blacklisted + excluded.blacklisted;
    RETURN NULL;
END $$;

CREATE TRIGGER subscribers_counters_insert AFTER INSERT ON subscribers
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION list_counters_after_insert();
CREATE TRIGGER subscribers_counters_delete AFTER DELETE ON subscribers
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION list_counters_after_delete();
CREATE TRIGGER subscribers_counters_update AFTER UPDATE ON subscribers
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT
    EXECUTE FUNCTION list_counters_after_update();
"""


forwards = sql_migration(ID, DESCRIPTION, SQL)
