"""Automations: flows, their published versions, who is enrolled where, what is due next, and each step run.

- `flows`: what the editor edits (`draft_steps`, trigger, settings) and `version`, the published version new
  enrolments enter (0 = never published).
- `flow_versions`: each publication, frozen. People inside a flow stay on the version they entered.
- `flow_enrolments`: one row per person per enrolment; the partial unique index keeps one live enrolment
  per person per flow, so a trigger firing twice at once enrols once.
- `flow_steps_due`: the step each live enrolment runs next and when. A wait is resolved when the step is
  entered (due_at is the wait's end), so the engine only ever reads rows that are due. A worker claims rows
  with a lease (`lease_until`); a killed worker's rows are claimed again when the lease has passed. A paused
  flow's rows are held with a lease of 'infinity' until it is resumed.
  `waiting_event` names the event a wait is listening for (cleared when it happens); `subscriber_id` is
  copied here so an event finds its waiting rows without a join.
- `flow_step_runs`: one row per step run; the unique key (enrolment, step, version, visit) is what makes a
  step run exactly once, whatever the number of workers or re-runs. `visit` counts the jumps a `goto` made.
  Due rows and runs reference only their enrolment and go with it (a deleted flow, workspace or subscriber
  deletes its enrolments): a foreign key check per row on the workspace and the flow too cost a quarter of
  the time of writing a batch of runs.
- `flow_step_stats` and `flow_counters`: counters the engine keeps as it writes runs, so report pages never
  count rows.
"""

from app.db.migrating import sql_migration

ID = "2026-12-05T01:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "flows"

SQL = """
CREATE TABLE flows (
    id serial PRIMARY KEY,
    workspace_id integer NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    name varchar(120) NOT NULL,
    status varchar(10) NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'active', 'paused', 'archived')),
    trigger jsonb NOT NULL DEFAULT '{"kind": "manual"}',
    settings jsonb NOT NULL DEFAULT '{}',
    version integer NOT NULL DEFAULT 0,
    draft_steps jsonb NOT NULL DEFAULT '[]',
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX flows_workspace_idx ON flows (workspace_id, id DESC);
CREATE INDEX flows_active_trigger_idx ON flows (workspace_id, (trigger->>'kind')) WHERE status = 'active';

CREATE TABLE flow_versions (
    id serial PRIMARY KEY,
    workspace_id integer NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    flow_id integer NOT NULL REFERENCES flows(id) ON DELETE CASCADE,
    version integer NOT NULL,
    steps jsonb NOT NULL,
    trigger jsonb NOT NULL,
    settings jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (flow_id, version)
);

CREATE TABLE flow_enrolments (
    id bigserial PRIMARY KEY,
    workspace_id integer NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    flow_id integer NOT NULL REFERENCES flows(id) ON DELETE CASCADE,
    version integer NOT NULL,
    subscriber_id bigint NOT NULL REFERENCES subscribers(id) ON DELETE CASCADE,
    status varchar(10) NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'completed', 'exited')),
    exit_reason varchar(64) NOT NULL DEFAULT '',
    entered_at timestamptz NOT NULL,
    finished_at timestamptz,
    converted_at timestamptz,
    trigger_ref varchar(200) NOT NULL DEFAULT ''
);
CREATE UNIQUE INDEX flow_enrolments_live_idx ON flow_enrolments (flow_id, subscriber_id) WHERE status = 'active';
CREATE INDEX flow_enrolments_history_idx ON flow_enrolments (flow_id, subscriber_id, entered_at);
CREATE INDEX flow_enrolments_subscriber_idx ON flow_enrolments (subscriber_id, id);

CREATE TABLE flow_steps_due (
    enrolment_id bigint PRIMARY KEY REFERENCES flow_enrolments(id) ON DELETE CASCADE,
    workspace_id integer NOT NULL,
    flow_id integer NOT NULL,
    version integer NOT NULL,
    subscriber_id bigint NOT NULL,
    step_id varchar(32) NOT NULL,
    visit smallint NOT NULL DEFAULT 0,
    due_at timestamptz NOT NULL,
    lease_until timestamptz,
    waiting_event varchar(64),
    timeout_at timestamptz
);
CREATE INDEX flow_steps_due_due_idx ON flow_steps_due (due_at) WHERE lease_until IS NULL;
CREATE INDEX flow_steps_due_lease_idx ON flow_steps_due (lease_until) WHERE lease_until IS NOT NULL;
CREATE INDEX flow_steps_due_step_idx ON flow_steps_due (flow_id, version, step_id, enrolment_id);
CREATE INDEX flow_steps_due_event_idx ON flow_steps_due (subscriber_id, waiting_event)
    WHERE waiting_event IS NOT NULL;

CREATE TABLE flow_step_runs (
    id bigserial PRIMARY KEY,
    workspace_id integer NOT NULL,
    enrolment_id bigint NOT NULL REFERENCES flow_enrolments(id) ON DELETE CASCADE,
    flow_id integer NOT NULL,
    version integer NOT NULL,
    step_id varchar(32) NOT NULL,
    visit smallint NOT NULL DEFAULT 0,
    outcome varchar(10) NOT NULL
        CHECK (outcome IN ('done', 'yes', 'no', 'sent', 'skipped', 'event', 'timeout', 'exited')),
    delivery_id bigint,
    detail text NOT NULL DEFAULT '',
    ran_at timestamptz NOT NULL,
    UNIQUE (enrolment_id, step_id, version, visit)
);
CREATE INDEX flow_step_runs_step_idx ON flow_step_runs (flow_id, step_id, id);

CREATE TABLE flow_step_stats (
    workspace_id integer NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    flow_id integer NOT NULL REFERENCES flows(id) ON DELETE CASCADE,
    version integer NOT NULL,
    step_id varchar(32) NOT NULL,
    entered bigint NOT NULL DEFAULT 0,
    waiting bigint NOT NULL DEFAULT 0,
    done bigint NOT NULL DEFAULT 0,
    yes bigint NOT NULL DEFAULT 0,
    no bigint NOT NULL DEFAULT 0,
    sent bigint NOT NULL DEFAULT 0,
    skipped bigint NOT NULL DEFAULT 0,
    event bigint NOT NULL DEFAULT 0,
    timeout bigint NOT NULL DEFAULT 0,
    exited bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (flow_id, version, step_id)
);

CREATE TABLE flow_counters (
    flow_id integer PRIMARY KEY REFERENCES flows(id) ON DELETE CASCADE,
    workspace_id integer NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    enrolled bigint NOT NULL DEFAULT 0,
    active bigint NOT NULL DEFAULT 0,
    completed bigint NOT NULL DEFAULT 0,
    exited bigint NOT NULL DEFAULT 0,
    converted bigint NOT NULL DEFAULT 0
);
"""


forwards = sql_migration(ID, DESCRIPTION, SQL)
