"""The Analytics portal's rollups: what was sent, what came back and what it earned, per hour and per day.

`performance_hours` and `performance_days` hold one row per workspace, period, server, domain group and
campaign (0 where unknown), kept current by the writers of the raw rows: the send path's batch results
(sent, failed, deferred), the tracking aggregator (opens, clicks, unsubscribes), the bounce processor
(bounces by category, complaints) and the postback (conversions, revenue). No page scans deliveries or
events; `ignite rollups rebuild` recomputes any range from the raw tables.

`conversion_days` breaks conversions down the way revenue is read: per campaign, server, list and offer.
"""

from app.db.migrating import sql_migration

ID = "2026-12-06T01:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "analytics rollups"

_MEASURES = """
    sent bigint NOT NULL DEFAULT 0,
    failed bigint NOT NULL DEFAULT 0,
    deferred bigint NOT NULL DEFAULT 0,
    hard bigint NOT NULL DEFAULT 0,
    soft bigint NOT NULL DEFAULT 0,
    block bigint NOT NULL DEFAULT 0,
    complaints bigint NOT NULL DEFAULT 0,
    human_opens bigint NOT NULL DEFAULT 0,
    unique_opens bigint NOT NULL DEFAULT 0,
    machine_opens bigint NOT NULL DEFAULT 0,
    human_clicks bigint NOT NULL DEFAULT 0,
    unique_clicks bigint NOT NULL DEFAULT 0,
    bot_clicks bigint NOT NULL DEFAULT 0,
    unsubscribes bigint NOT NULL DEFAULT 0,
    conversions bigint NOT NULL DEFAULT 0,
    revenue numeric(16, 4) NOT NULL DEFAULT 0
"""

SQL = f"""
CREATE TABLE performance_hours (
    workspace_id integer NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    hour timestamptz NOT NULL,
    server_id integer NOT NULL DEFAULT 0,
    domain_group varchar(64) NOT NULL DEFAULT '',
    campaign_id integer NOT NULL DEFAULT 0,
    {_MEASURES},
    PRIMARY KEY (workspace_id, hour, server_id, domain_group, campaign_id)
);

CREATE TABLE performance_days (
    workspace_id integer NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    day date NOT NULL,
    server_id integer NOT NULL DEFAULT 0,
    domain_group varchar(64) NOT NULL DEFAULT '',
    campaign_id integer NOT NULL DEFAULT 0,
    {_MEASURES},
    PRIMARY KEY (workspace_id, day, server_id, domain_group, campaign_id)
);
CREATE INDEX performance_days_campaign_idx ON performance_days (workspace_id, campaign_id, day);

CREATE TABLE conversion_days (
    workspace_id integer NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    day date NOT NULL,
    campaign_id integer NOT NULL DEFAULT 0,
    server_id integer NOT NULL DEFAULT 0,
    list_id integer NOT NULL DEFAULT 0,
    offer_id varchar(64) NOT NULL DEFAULT '',
    conversions bigint NOT NULL DEFAULT 0,
    revenue numeric(16, 4) NOT NULL DEFAULT 0,
    PRIMARY KEY (workspace_id, day, campaign_id, server_id, list_id, offer_id)
);
"""


forwards = sql_migration(ID, DESCRIPTION, SQL)
