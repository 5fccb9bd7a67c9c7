"""The team's task board: columns in order, cards in order within their column, and each card's trail.

A card always names its column (the foreign key refuses deleting a column that still holds one), so a move
is one row changing column and position: however moves interleave, no card is lost. Moves into a column
lock that column's row and renumber its cards in one statement, so positions stay dense and distinct.
"""

from app.db.migrating import sql_migration

ID = "2026-12-06T07:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "task board"

SQL = """
CREATE TABLE task_columns (
    id serial PRIMARY KEY,
    workspace_id integer NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    name varchar(80) NOT NULL,
    position integer NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX task_columns_workspace_idx ON task_columns (workspace_id, position);

CREATE TABLE task_cards (
    id serial PRIMARY KEY,
    workspace_id integer NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    column_id integer NOT NULL REFERENCES task_columns(id),
    position integer NOT NULL DEFAULT 0,
    title varchar(200) NOT NULL,
    description text NOT NULL DEFAULT '',
    assignee_id integer REFERENCES users(id) ON DELETE SET NULL,
    due_on date,
    labels varchar(40)[] NOT NULL DEFAULT '{}',
    campaign_id integer REFERENCES campaigns(id) ON DELETE SET NULL,
    list_id integer REFERENCES lists(id) ON DELETE SET NULL,
    flow_id integer REFERENCES flows(id) ON DELETE SET NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX task_cards_column_idx ON task_cards (workspace_id, column_id, position);

CREATE TABLE task_card_events (
    id bigserial PRIMARY KEY,
    workspace_id integer NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    card_id integer NOT NULL REFERENCES task_cards(id) ON DELETE CASCADE,
    user_id integer REFERENCES users(id) ON DELETE SET NULL,
    actor varchar(320) NOT NULL DEFAULT '',
    action varchar(32) NOT NULL,
    details jsonb NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX task_card_events_card_idx ON task_card_events (workspace_id, card_id, id);
"""


forwards = sql_migration(ID, DESCRIPTION, SQL)
