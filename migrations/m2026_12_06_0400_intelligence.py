"""What the workspace learns from its own history: churn models, each subscriber's churn risk, and daily
snapshots of the engagement score distribution.

`churn_models` keeps every training run: how many subscribers it learnt from and held out, its AUC on the
held-out ones (NULL when the history was too thin to train), and the standardised weights that score a
subscriber. `churn_scores` holds one row per mailable subscriber, rewritten by the daily job with the
newest model. `engagement_snapshots` counts mailable subscribers per list and score band (0, then 1-10 …
91-100) each day, with how many of them have not opened or clicked in 180 days, so the page shows how the
distribution moves and each list's inactive share without reading subscribers.
"""

from app.db.migrating import sql_migration

ID = "2026-12-06T04:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "intelligence: churn models and scores, engagement snapshots"

SQL = """
CREATE TABLE churn_models (
    id serial PRIMARY KEY,
    workspace_id integer NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    trained_at timestamptz NOT NULL DEFAULT now(),
    horizon_days smallint NOT NULL,
    trained_on integer NOT NULL DEFAULT 0,
    held_out integer NOT NULL DEFAULT 0,
    churned integer NOT NULL DEFAULT 0,
    auc double precision,
    features jsonb NOT NULL DEFAULT '[]',
    intercept double precision NOT NULL DEFAULT 0,
    note text NOT NULL DEFAULT ''
);
CREATE INDEX churn_models_workspace_idx ON churn_models (workspace_id, trained_at DESC);

CREATE TABLE churn_scores (
    subscriber_id bigint PRIMARY KEY REFERENCES subscribers(id) ON DELETE CASCADE,
    workspace_id integer NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    model_id integer NOT NULL REFERENCES churn_models(id) ON DELETE CASCADE,
    risk real NOT NULL,
    scored_at timestamptz NOT NULL
);
CREATE INDEX churn_scores_risk_idx ON churn_scores (workspace_id, risk DESC, subscriber_id DESC);
CREATE INDEX churn_scores_model_idx ON churn_scores (model_id);

CREATE TABLE engagement_snapshots (
    workspace_id integer NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    day date NOT NULL,
    list_id integer NOT NULL REFERENCES lists(id) ON DELETE CASCADE,
    band smallint NOT NULL,
    subscribers bigint NOT NULL DEFAULT 0,
    score_sum bigint NOT NULL DEFAULT 0,
    inactive bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (workspace_id, day, list_id, band)
);
"""


forwards = sql_migration(ID, DESCRIPTION, SQL)
