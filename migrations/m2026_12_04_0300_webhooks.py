"""Outbound webhooks: where a workspace's events are posted, and each delivery of one event to one endpoint.

- `webhook_endpoints`: a URL, the event kinds it hears (`events`), its signing secret (Fernet-encrypted by
  app/services/vault.py), whether it is enabled, and why and when it was disabled after repeated failure.
- `webhook_settings`: per workspace, whether endpoints may point at private, loopback or link-local
  addresses (off unless an admin allows it: an endpoint must never reach inside the platform's network).
- `webhook_deliveries`: one row per (endpoint, event); the event id is shared by the rows one event fans
  out to, so a receiver can tell a retry from a new event. The worker claims due rows by `next_attempt_at`
  with a lease (`leased_until`); the partial index serves only the rows still waiting, so it stays small
  however long the log grows. The log of an endpoint pages on (endpoint_id, id); rows done for longer than the
  log is kept are deleted oldest first by `created_at`.
"""

from app.db.migrating import sql_migration

ID = "2026-12-04T03:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "outbound webhooks"

SQL = """
CREATE TABLE webhook_endpoints (
    id serial PRIMARY KEY,
    workspace_id integer NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    url text NOT NULL CHECK (length(url) <= 2000),
    description varchar(200) NOT NULL DEFAULT '',
    events text[] NOT NULL CHECK (cardinality(events) > 0),
    secret text NOT NULL,
    enabled boolean NOT NULL DEFAULT true,
    failures integer NOT NULL DEFAULT 0,
    disabled_at timestamptz,
    disabled_reason text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhook_endpoints_workspace_idx ON webhook_endpoints (workspace_id) WHERE enabled;

CREATE TABLE webhook_settings (
    id serial PRIMARY KEY,
    workspace_id integer NOT NULL UNIQUE REFERENCES workspaces(id) ON DELETE CASCADE,
    allow_private_targets boolean NOT NULL DEFAULT false,
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE webhook_deliveries (
    id bigserial PRIMARY KEY,
    workspace_id integer NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    endpoint_id integer NOT NULL REFERENCES webhook_endpoints(id) ON DELETE CASCADE,
    event_id uuid NOT NULL,
    kind varchar(40) NOT NULL,
    payload jsonb NOT NULL,
    status varchar(12) NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz,
    leased_until timestamptz,
    last_attempt_at timestamptz,
    last_status_code integer,
    last_error text NOT NULL DEFAULT '',
    response_excerpt text NOT NULL DEFAULT '',
    delivered_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_endpoint_idx ON webhook_deliveries (endpoint_id, id);
CREATE INDEX webhook_deliveries_workspace_idx ON webhook_deliveries (workspace_id, id);
CREATE INDEX webhook_deliveries_created_idx ON webhook_deliveries (created_at);
"""


forwards = sql_migration(ID, DESCRIPTION, SQL)
