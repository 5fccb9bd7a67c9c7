"""The Analytics portal's rollups: what was sent, what came back and what it earned, per hour and per day.

`performance_hours` and `performance_days` hold one row per workspace, period, server, domain group and
campaign (0 where unknown), kept current by the writers of the raw rows: the send path's batch results
(sent, failed, deferred), the tracking aggregator (opens, clicks, unsubscribes), the bounce processor
(bounces by category, complaints) and the postback (conversions, revenue). No page scans deliveries or
events; `ignite rollups rebuild` recomputes any range from the raw tables.

`conversion_days` breaks conversions down the way revenue is read: per campaign, server, list and offer.

Every writer hands its news to `add_performance` as facts (a moment, the dimensions, a measure's name and an
amount), so how a fact lands in its hour and its UTC day, and the order rows are locked in, is written once.
"""

from app.db.migrating import sql_migration

ID = "2026-12-06T01:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "analytics rollups"

MEASURES = ("sent", "failed", "deferred", "hard", "soft", "block", "complaints", "human_opens", "unique_opens",
            "machine_opens", "human_clicks", "unique_clicks", "bot_clicks", "unsubscribes", "conversions", "revenue")
_KEYS = "workspace_id, {period}, server_id, domain_group, campaign_id"
_SUMS = ", ".join(f"coalesce(sum(n) FILTER (WHERE measure = '{name}'), 0)" for name in MEASURES)
_ADDED = ", ".join(f"{name} = p.{name} + excluded.{name}" for name in MEASURES)


def _upsert(table: str, period: str) -> str:
    keys = _KEYS.format(period=period)
    return f"""INSERT INTO {table} AS p ({keys}, {", ".join(MEASURES)})
        SELECT {keys}, {_SUMS} FROM f GROUP BY {keys} ORDER BY {keys}
        ON CONFLICT ({keys}) DO UPDATE SET {_ADDED}
        RETURNING 1"""


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

-- One piece of news for the rollups: `n` of `measure` (a column's name) at `at`.
CREATE TYPE performance_fact AS (
    workspace_id integer, at timestamptz, server_id integer, domain_group text, campaign_id integer,
    measure text, n numeric
);

-- Adds facts to the hour and the UTC day they fall in; returns the rows touched. Hours go first and each
-- table's rows in key order, so writers adding at the same time lock shared rows in one order (no deadlock).
CREATE FUNCTION add_performance(facts performance_fact[]) RETURNS bigint LANGUAGE sql AS $$
    WITH f AS (
        SELECT workspace_id, date_trunc('hour', at, 'UTC') AS hour, (at AT TIME ZONE 'UTC')::date AS day,
               coalesce(server_id, 0) AS server_id, coalesce(domain_group, '') AS domain_group,
               coalesce(campaign_id, 0) AS campaign_id, measure, n
        FROM unnest(facts) WHERE n <> 0
    ), hours AS (
        {_upsert("performance_hours", "hour")}
    ), days AS (
        {_upsert("performance_days", "day")}
    )
    SELECT (SELECT count(*) FROM hours) + (SELECT count(*) FROM days)
$$;
"""


forwards = sql_migration(ID, DESCRIPTION, SQL)
