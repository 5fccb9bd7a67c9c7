"""What sending and data cost, for the P&L: revenue - ESP cost - data cost.

- `delivery_servers.monthly_cost`: a server's fixed cost per month (a dedicated IP, a plan's base fee), on top
  of `cost_per_thousand` times sent; a month's amount is spread over its days.
- `list_costs`: a list's data cost per month (a rented or maintained list), one row per list once set.
- `imports.data_cost`: what one imported file cost, counted on the day it was imported, to its list.
- `cost_extras`: the workspace's other costs (tools, people), each monthly from a date or once on a date.
"""

from app.db.migrating import sql_migration

ID = "2026-12-06T02:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "analytics costs"

SQL = """
ALTER TABLE delivery_servers ADD COLUMN monthly_cost numeric(12, 2) NOT NULL DEFAULT 0 CHECK (monthly_cost >= 0);
ALTER TABLE imports ADD COLUMN data_cost numeric(12, 2) NOT NULL DEFAULT 0 CHECK (data_cost >= 0);

CREATE TABLE list_costs (
    list_id integer PRIMARY KEY REFERENCES lists(id) ON DELETE CASCADE,
    workspace_id integer NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    monthly_cost numeric(12, 2) NOT NULL DEFAULT 0 CHECK (monthly_cost >= 0),
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE cost_extras (
    id serial PRIMARY KEY,
    workspace_id integer NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    name varchar(120) NOT NULL,
    amount numeric(12, 2) NOT NULL CHECK (amount > 0),
    recurrence varchar(8) NOT NULL CHECK (recurrence IN ('monthly', 'once')),
    -- The day a one-off cost was paid, or the first day a monthly one counts.
    on_date date NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX cost_extras_workspace_idx ON cost_extras (workspace_id, on_date);
"""


forwards = sql_migration(ID, DESCRIPTION, SQL)
