"""Bounce and complaint rates, each workspace's thresholds, and the pauses they decide.

- `feedback_counts`: hourly counters per (workspace, server, domain group, campaign): messages sent (from
  the campaign engine's batch write-back) and the hard, soft, block and complaint reports matched to them.
  An unknown server or campaign is stored as 0 so that the key stays a plain primary key for upserts.
  Rolling windows (24 hours, 7 days) are sums over these rows; AIMD's Redis slots keep ten minutes only.
- `feedback_settings`: one row per workspace, made on first save (until then the issue's defaults apply).
- `route_pauses`: at most one per (server, domain group): routing skips the pair until `ends_at` (a lift
  moves `ends_at` to the moment of the lift and keeps the row, so the next pause knows of it).
- `feedback_decisions`: every warning, pause and lift, newest first on the Delivery page.
"""

from app.db.migrating import sql_migration

ID = "2026-12-03T04:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "feedback rates"

SQL = """
CREATE TABLE feedback_counts (
    workspace_id integer NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    hour timestamptz NOT NULL,
    server_id integer NOT NULL DEFAULT 0,
    domain_group varchar(64) NOT NULL DEFAULT '',
    campaign_id integer NOT NULL DEFAULT 0,
    sent integer NOT NULL DEFAULT 0,
    hard integer NOT NULL DEFAULT 0,
    soft integer NOT NULL DEFAULT 0,
    block integer NOT NULL DEFAULT 0,
    complaint integer NOT NULL DEFAULT 0,
    PRIMARY KEY (workspace_id, hour, server_id, domain_group, campaign_id)
);
CREATE INDEX feedback_counts_server_idx ON feedback_counts (workspace_id, server_id, domain_group, hour);
CREATE INDEX feedback_counts_campaign_idx ON feedback_counts (workspace_id, campaign_id, hour);

CREATE TABLE feedback_settings (
    workspace_id integer PRIMARY KEY REFERENCES workspaces(id) ON DELETE CASCADE,
    soft_limit integer NOT NULL,
    soft_days integer NOT NULL,
    complaint_warn_rate double precision NOT NULL,
    complaint_pause_rate double precision NOT NULL,
    hard_pause_rate double precision NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE route_pauses (
    workspace_id integer NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    server_id integer NOT NULL REFERENCES delivery_servers(id) ON DELETE CASCADE,
    domain_group varchar(64) NOT NULL,
    reason text NOT NULL,
    paused_at timestamptz NOT NULL DEFAULT now(),
    ends_at timestamptz NOT NULL,
    -- Set when a person lifted it: the pair is not paused again on the same evidence for a while.
    lifted_at timestamptz,
    lifted_by varchar(320) NOT NULL DEFAULT '',
    PRIMARY KEY (server_id, domain_group)
);
CREATE INDEX route_pauses_workspace_idx ON route_pauses (workspace_id, ends_at);

CREATE TABLE feedback_decisions (
    id bigserial PRIMARY KEY,
    workspace_id integer NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    at timestamptz NOT NULL DEFAULT now(),
    kind varchar(20) NOT NULL,
    server_id integer,
    domain_group varchar(64) NOT NULL DEFAULT '',
    campaign_id integer,
    rate double precision,
    threshold double precision,
    reason text NOT NULL
);
CREATE INDEX feedback_decisions_workspace_idx ON feedback_decisions (workspace_id, id DESC);
"""


forwards = sql_migration(ID, DESCRIPTION, SQL)
