"""Everflow as a second source of conversions: each workspace's connection, the records pulled, and what
reconciling them with the postbacks found.

- `everflow_connections`: one row per workspace, made on first save. The network API's base URL, the API
  key (Fernet-encrypted by app/services/vault.py, never shown back), Everflow's `timezone_id` sent with
  each request, whether the scheduled pull runs, and how the pulls went: `pulled_until` is the end of the
  last good pull's window (the next window starts before it), the time of the last good pull and the last
  error, shown on the page.
- `everflow_conversions`: one row per (workspace, Everflow conversion id), upserted by every pull that sees
  it again, so a window that overlaps the last never duplicates a record and a later scrub, rejection or
  payout change replaces what was stored. `event_name` is '' for a base conversion, as in `conversions`.
- `everflow_reconciliation`: one row per (workspace, kind, transaction id, event name) that the two sides
  disagree on: missing in Ignite, missing in Everflow, scrubbed, payout changed, rejected. `state` is open
  until someone records the missing conversion or dismisses it, or a later pull finds the two sides agree
  (resolved). `converted_at` places it in time for the filters and for the next reconciliation's window.
"""

from app.db.migrating import sql_migration

ID = "2026-12-06T03:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "everflow pull and reconciliation"

SQL = """
CREATE TABLE everflow_connections (
    workspace_id integer PRIMARY KEY REFERENCES workspaces(id) ON DELETE CASCADE,
    base_url varchar(255) NOT NULL DEFAULT 'https://api.eflow.team/v1',
    api_key text NOT NULL DEFAULT '',
    timezone_id integer NOT NULL DEFAULT 67 CHECK (timezone_id > 0),
    enabled boolean NOT NULL DEFAULT false,
    pulled_until timestamptz,
    last_good_pull_at timestamptz,
    last_attempt_at timestamptz,
    last_result text NOT NULL DEFAULT '',
    last_error text NOT NULL DEFAULT '',
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX everflow_connections_enabled_idx ON everflow_connections (workspace_id) WHERE enabled;

CREATE TABLE everflow_conversions (
    id bigserial PRIMARY KEY,
    workspace_id integer NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    conversion_id varchar(64) NOT NULL,
    transaction_id varchar(128) NOT NULL DEFAULT '',
    event_name varchar(64) NOT NULL DEFAULT '',
    status varchar(32) NOT NULL DEFAULT '',
    is_scrub boolean NOT NULL DEFAULT false,
    payout numeric(14, 4) NOT NULL DEFAULT 0,
    revenue numeric(14, 4) NOT NULL DEFAULT 0,
    sale_amount numeric(14, 4) NOT NULL DEFAULT 0,
    currency varchar(3) NOT NULL DEFAULT '',
    offer_id varchar(64) NOT NULL DEFAULT '',
    sub1 varchar(200) NOT NULL DEFAULT '',
    sub2 varchar(200) NOT NULL DEFAULT '',
    sub3 varchar(200) NOT NULL DEFAULT '',
    sub4 varchar(200) NOT NULL DEFAULT '',
    sub5 varchar(200) NOT NULL DEFAULT '',
    converted_at timestamptz NOT NULL,
    pulled_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (workspace_id, conversion_id)
);
CREATE INDEX everflow_conversions_transaction_idx ON everflow_conversions (workspace_id, transaction_id, event_name);
CREATE INDEX everflow_conversions_time_idx ON everflow_conversions (workspace_id, converted_at);

CREATE TABLE everflow_reconciliation (
    id bigserial PRIMARY KEY,
    workspace_id integer NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    kind varchar(24) NOT NULL CHECK (kind IN ('missing_in_ignite', 'missing_in_everflow', 'scrubbed',
                                              'payout_changed', 'rejected')),
    transaction_id varchar(128) NOT NULL,
    event_name varchar(64) NOT NULL DEFAULT '',
    everflow_id bigint REFERENCES everflow_conversions(id) ON DELETE SET NULL,
    conversion_id bigint REFERENCES conversions(id) ON DELETE SET NULL,
    everflow_status varchar(32) NOT NULL DEFAULT '',
    everflow_payout numeric(14, 4),
    everflow_currency varchar(3) NOT NULL DEFAULT '',
    ignite_revenue numeric(14, 4),
    ignite_currency varchar(3) NOT NULL DEFAULT '',
    converted_at timestamptz NOT NULL,
    state varchar(12) NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'dismissed', 'recorded', 'resolved')),
    state_note text NOT NULL DEFAULT '',
    found_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (workspace_id, kind, transaction_id, event_name)
);
CREATE INDEX everflow_reconciliation_list_idx
    ON everflow_reconciliation (workspace_id, state, converted_at DESC, id DESC);
"""


forwards = sql_migration(ID, DESCRIPTION, SQL)
