"""Automations: events posted from outside, and who was in a flow's segment at its last check.

- `subscriber_events`: a custom event (`POST /api/v1/events`, e.g. `viewed_offer`) with its properties. Flows
  start on one, waits end on one, and a condition asks "did X happen within N minutes": the index answers
  that for a batch of subscribers by reading only each one's latest rows of that name. The rows go with their
  subscriber (an erased person leaves none behind).
- `flow_segment_members`: the subscribers a segment-triggered flow saw in its segment at the last scheduled
  check, so the next check enrols only those who entered since (and forgets those who left, so coming back
  counts as entering again).
"""

from app.db.migrating import sql_migration

ID = "2026-12-05T02:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "flow events"

SQL = """
CREATE TABLE subscriber_events (
    id bigserial PRIMARY KEY,
    workspace_id integer NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    subscriber_id bigint NOT NULL REFERENCES subscribers(id) ON DELETE CASCADE,
    name varchar(64) NOT NULL,
    properties jsonb NOT NULL DEFAULT '{}',
    occurred_at timestamptz NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX subscriber_events_recent_idx ON subscriber_events (subscriber_id, name, occurred_at DESC);
CREATE INDEX subscriber_events_workspace_idx ON subscriber_events (workspace_id, id);

CREATE TABLE flow_segment_members (
    flow_id integer NOT NULL REFERENCES flows(id) ON DELETE CASCADE,
    subscriber_id bigint NOT NULL REFERENCES subscribers(id) ON DELETE CASCADE,
    workspace_id integer NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    PRIMARY KEY (flow_id, subscriber_id)
);
CREATE INDEX flow_segment_members_subscriber_idx ON flow_segment_members (subscriber_id);
"""


forwards = sql_migration(ID, DESCRIPTION, SQL)
