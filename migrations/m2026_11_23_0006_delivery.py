"""Delivery: ESP connections (servers), warm-up plans, recipient domain groups, routing rules.

Throttle decisions live in Redis next to the buckets and breakers that make them.
"""

from app.db.migrating import sql_migration

ID = "2026-11-23T11:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "delivery"

SQL = """
CREATE TABLE warmup_plans (
    id serial PRIMARY KEY,
    workspace_id integer NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    name varchar(120) NOT NULL,
    daily_caps integer[] NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (workspace_id, name)
);

CREATE TABLE delivery_servers (
    id serial PRIMARY KEY,
    workspace_id integer NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    name varchar(120) NOT NULL,
    kind varchar(16) NOT NULL CHECK (kind IN ('capture', 'smtp', 'ses', 'http_api')),
    status varchar(16) NOT NULL DEFAULT 'active'
        CHECK (status IN ('active', 'paused', 'disabled', 'warmup', 'circuit_open')),
    status_reason text NOT NULL DEFAULT '',
    from_email varchar(320) NOT NULL DEFAULT '',
    from_name varchar(120) NOT NULL DEFAULT '',
    bounce_address varchar(320) NOT NULL DEFAULT '',
    per_second integer NOT NULL DEFAULT 0,
    hourly_quota integer NOT NULL DEFAULT 0,
    daily_quota integer NOT NULL DEFAULT 0,
    monthly_quota integer NOT NULL DEFAULT 0,
    weight integer NOT NULL DEFAULT 100 CHECK (weight BETWEEN 0 AND 1000),
    cost_per_thousand numeric(10, 4) NOT NULL DEFAULT 0,
    warmup_plan_id integer REFERENCES warmup_plans(id) ON DELETE SET NULL,
    warmup_day integer NOT NULL DEFAULT 0,
    warmup_override_cap integer,
    warmup_last_decided_on date,
    warmup_held_days integer NOT NULL DEFAULT 0,
    allowed_domains text[] NOT NULL DEFAULT '{}',
    settings jsonb NOT NULL DEFAULT '{}',
    secrets text NOT NULL DEFAULT '',
    last_check_at timestamptz,
    last_check_ok boolean,
    last_check_detail text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (workspace_id, name)
);

CREATE TABLE domain_groups (
    id serial PRIMARY KEY,
    workspace_id integer NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    name varchar(64) NOT NULL,
    domains text[] NOT NULL DEFAULT '{}',
    hourly_limit integer NOT NULL DEFAULT 0,
    position integer NOT NULL DEFAULT 0,
    UNIQUE (workspace_id, name)
);

CREATE TABLE routing_rules (
    id serial PRIMARY KEY,
    workspace_id integer NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    name varchar(120) NOT NULL,
    position integer NOT NULL DEFAULT 0,
    domain_group_id integer REFERENCES domain_groups(id) ON DELETE CASCADE,
    list_id integer REFERENCES lists(id) ON DELETE CASCADE,
    campaign_tag varchar(64) NOT NULL DEFAULT '',
    pool jsonb NOT NULL DEFAULT '[]',
    enabled boolean NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX routing_rules_workspace_idx ON routing_rules (workspace_id, position);

"""


forwards = sql_migration(ID, DESCRIPTION, SQL)
