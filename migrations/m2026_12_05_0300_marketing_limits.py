"""Flow emails as campaign deliveries, and the workspace's marketing limits (frequency cap, quiet hours).

Each send step of each published flow version has a campaign of its own (`kind = 'flow'`), made on its first
send with the step's template snapshot; it is `sending` from birth with `materialised_at` set, so the send
actors claim its rows, the reaper re-queues them and flushes its counters, a workspace's stop pauses it, and
it never finishes. Its deliveries are written with `transactional = true`, so the unique index keeps one row
per delivery (a person enrolled again gets another), not one per address.

`flow_sends` is the exactly-once key of a flow email: one delivery per (step campaign, enrolment, visit),
whatever the number of workers or re-runs. It also names a delivery's enrolment for timelines.

`marketing_limits`: at most `max_per_day` marketing emails (campaigns and flows) per subscriber per local day,
and no flow email between `quiet_start` and `quiet_end` (minutes of the subscriber's day; start > end wraps
past midnight). Null: no limit.
"""

from app.db.migrating import sql_migration

ID = "2026-12-05T03:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "flow sends and marketing limits"

SQL = """
ALTER TABLE campaigns DROP CONSTRAINT campaigns_kind_check;
ALTER TABLE campaigns ADD CONSTRAINT campaigns_kind_check CHECK (kind IN ('campaign', 'transactional', 'flow'));

CREATE TABLE flow_step_campaigns (
    workspace_id integer NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    flow_id integer NOT NULL REFERENCES flows(id) ON DELETE CASCADE,
    version integer NOT NULL,
    step_id varchar(32) NOT NULL,
    campaign_id integer NOT NULL UNIQUE REFERENCES campaigns(id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (flow_id, version, step_id)
);

CREATE TABLE flow_sends (
    workspace_id integer NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    campaign_id integer NOT NULL REFERENCES campaigns(id) ON DELETE CASCADE,
    enrolment_id bigint NOT NULL,
    visit smallint NOT NULL DEFAULT 0,
    delivery_id bigint NOT NULL,
    subscriber_id bigint NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (campaign_id, enrolment_id, visit)
);
CREATE INDEX flow_sends_enrolment_idx ON flow_sends (enrolment_id);

CREATE TABLE marketing_limits (
    workspace_id integer PRIMARY KEY REFERENCES workspaces(id) ON DELETE CASCADE,
    max_per_day smallint CHECK (max_per_day BETWEEN 1 AND 100),
    quiet_start smallint CHECK (quiet_start BETWEEN 0 AND 1439),
    quiet_end smallint CHECK (quiet_end BETWEEN 0 AND 1439),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CHECK ((quiet_start IS NULL) = (quiet_end IS NULL) AND (quiet_start IS NULL OR quiet_start <> quiet_end))
);
"""


forwards = sql_migration(ID, DESCRIPTION, SQL)
