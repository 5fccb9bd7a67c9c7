"""Tracking: events recorded exactly once, monthly partitions made ahead, per-delivery and per-campaign counts.

- `events.stream_id` is the Redis stream entry an event came from; unique with `occurred_at` (a unique
  index on a partitioned table must hold the partition key, and a re-delivered entry carries the same
  time), so an entry the aggregator writes twice is stored once. `link_index` is the link clicked.
- `ensure_events_partition(month)` makes the partition of one month. Rows of that month already in
  `events_default` would stop PostgreSQL attaching it, so they are moved into the new table first, in
  the same transaction, with the default partition locked against new rows meanwhile. The scheduler
  calls it for the months ahead; here it runs for this month and the next two.
- `delivery_engagement`: opens and clicks of each delivery (total, first and last), which tell a
  unique open from a repeated one; `campaign_engagement`: the campaign page's figures. The aggregator
  updates both in the transaction that inserts the events.
"""

from app.db.migrating import sql_migration

ID = "2026-12-01T08:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "tracking"

SQL = """
ALTER TABLE events ADD COLUMN stream_id text;
ALTER TABLE events ADD COLUMN link_index smallint;
CREATE UNIQUE INDEX events_stream_idx ON events (stream_id, occurred_at);

CREATE FUNCTION ensure_events_partition(month date) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    first_day date := date_trunc('month', month)::date;
    next_day date := (date_trunc('month', month) + interval '1 month')::date;
    name text := format('events_%s', to_char(first_day, 'YYYY_MM'));
BEGIN
    IF to_regclass(name) IS NOT NULL THEN
        RETURN name;
    END IF;
    LOCK TABLE events_default IN SHARE ROW EXCLUSIVE MODE;
    EXECUTE format('CREATE TABLE %I (LIKE events INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', name);
    EXECUTE format('WITH moved AS (DELETE FROM events_default WHERE occurred_at >= %L AND occurred_at < %L '
                   'RETURNING *) INSERT INTO %I SELECT * FROM moved', first_day, next_day, name);
    EXECUTE format('ALTER TABLE events ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)',
                   name, first_day, next_day);
    RETURN name;
END $$;

SELECT ensure_events_partition((now() + make_interval(months => n))::date) FROM generate_series(0, 2) n;

CREATE TABLE delivery_engagement (
    delivery_id bigint PRIMARY KEY,
    workspace_id integer NOT NULL,
    campaign_id integer NOT NULL REFERENCES campaigns(id) ON DELETE CASCADE,
    opens integer NOT NULL DEFAULT 0,
    clicks integer NOT NULL DEFAULT 0,
    first_open_at timestamptz,
    last_open_at timestamptz,
    first_click_at timestamptz,
    last_click_at timestamptz
);
CREATE INDEX delivery_engagement_campaign_idx ON delivery_engagement (campaign_id);

CREATE TABLE campaign_engagement (
    campaign_id integer PRIMARY KEY REFERENCES campaigns(id) ON DELETE CASCADE,
    workspace_id integer NOT NULL,
    opens bigint NOT NULL DEFAULT 0,
    unique_opens bigint NOT NULL DEFAULT 0,
    clicks bigint NOT NULL DEFAULT 0,
    unique_clicks bigint NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL DEFAULT now()
);
"""


forwards = sql_migration(ID, DESCRIPTION, SQL)
